/** The prepare suite on the overlay snapshot backend. */

import { definePrepareSuite } from "./_prepare_suite.ts";

await definePrepareSuite("overlay");
