/**
 * Tests that need a component this machine may lack (root, a tool, a container engine, Liquibase).
 *
 * Whether it is there is found when the test module loads, before the test is registered, so a missing
 * component shows in Deno's report: outside CI the test is registered as ignored, and the reason is
 * printed once per component; under CI=true, where no test may skip, the test is registered and fails
 * saying what is missing.
 *
 * @module
 */

/** A component some tests need, and whether this machine has it. */
export interface Need {
  available: boolean;
  /** What is needed, as a message names it: "Liquibase and Java (scripts/install-liquibase.sh)". */
  what: string;
}

/** The component `what`, there or not. */
export function need(available: boolean, what: string): Need {
  return { available, what };
}

/** The definition to register for a test that needs `needs` (pure: `ci` says whether CI=true). */
export function testNeedingDefinition(
  needs: readonly Need[],
  definition: Deno.TestDefinition,
  ci: boolean,
): { definition: Deno.TestDefinition; missing?: Need } {
  const missing = needs.find((n) => !n.available);
  if (missing === undefined) return { definition };
  if (ci) {
    const fn = () => {
      throw new Error(`${missing.what} is missing, and CI=true forbids skipping`);
    };
    return { definition: { ...definition, fn }, missing };
  }
  return { definition: { ...definition, ignore: true }, missing };
}

/** Components already reported missing, so that each is named once. */
const reported = new Set<string>();

/**
 * Registers a test that needs `needs` (one or several): as it is when all are there, else ignored with
 * its reason printed (outside CI) or failing with it (under CI=true).
 */
export function testNeeding(needs: Need | readonly Need[], definition: Deno.TestDefinition): void;
export function testNeeding(
  needs: Need | readonly Need[],
  name: string,
  fn: (t: Deno.TestContext) => void | Promise<void>,
): void;
export function testNeeding(
  needs: Need | readonly Need[],
  nameOrDefinition: string | Deno.TestDefinition,
  fn?: (t: Deno.TestContext) => void | Promise<void>,
): void {
  const asked = typeof nameOrDefinition === "string"
    ? { name: nameOrDefinition, fn: fn as (t: Deno.TestContext) => void | Promise<void> }
    : nameOrDefinition;
  const ci = Deno.env.get("CI") === "true";
  const { definition, missing } = testNeedingDefinition([needs].flat(), asked, ci);
  if (missing !== undefined && !ci && !reported.has(missing.what)) {
    reported.add(missing.what);
    console.warn(`ignored: the tests that need ${missing.what}; it is missing`);
  }
  Deno.test(definition);
}

/**
 * Whether `needed` is there, for what a test only learns while it runs (a backend its benchmark run
 * could not measure): under CI=true a missing component fails the test; elsewhere it is named and the
 * test goes on without it. A test that cannot run at all without it is registered with
 * {@link testNeeding} instead.
 */
export function hasNeeded(needed: Need): boolean {
  if (needed.available) return true;
  if (Deno.env.get("CI") === "true") {
    throw new Error(`${needed.what} is missing, and CI=true forbids skipping`);
  }
  console.warn(`not checked: ${needed.what} is missing`);
  return false;
}
