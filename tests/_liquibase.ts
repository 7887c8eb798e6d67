/**
 * Whether Liquibase (and Java) can be found the way the engine looks for them.
 *
 * @module
 */

/** True when the engine would find a Liquibase launcher. */
export async function liquibaseAvailable(): Promise<boolean> {
  const { findLiquibase } = await import("../engine/prepare/liquibase/lb_tool.ts");
  try {
    await findLiquibase(null);
    return true;
  } catch {
    return false;
  }
}
