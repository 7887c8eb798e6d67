/** The prepare suite on the podman runtime (copy snapshot backend), with the locally built image. */

import { definePrepareSuite } from "./_prepare_suite.ts";

await definePrepareSuite("copy", "podman");
