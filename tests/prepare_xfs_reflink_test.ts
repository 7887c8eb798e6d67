/** The prepare suite on the xfs-reflink snapshot backend. */

import { definePrepareSuite } from "./_prepare_suite.ts";

await definePrepareSuite("xfs-reflink");
