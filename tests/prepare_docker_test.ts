/** The prepare suite on the docker runtime (copy snapshot backend), with the locally built image. */

import { definePrepareSuite } from "./_prepare_suite.ts";

await definePrepareSuite("copy", "docker");
