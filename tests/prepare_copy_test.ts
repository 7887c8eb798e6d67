/** The prepare suite on the copy snapshot backend. */

import { definePrepareSuite } from "./_prepare_suite.ts";

await definePrepareSuite("copy");
