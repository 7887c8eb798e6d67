/** The prepare suite on the btrfs snapshot backend. */

import { definePrepareSuite } from "./_prepare_suite.ts";

await definePrepareSuite("btrfs");
