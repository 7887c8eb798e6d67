/**
 * The engine's name for {@link argsSummary}, which lives in shared/ for the CLI too.
 *
 * @module
 */

export { argsSummary } from "../../shared/args_summary.ts";
