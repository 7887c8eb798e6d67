/**
 * The checks on the name a prepare asks to bind its instance to (`--name`).
 *
 * @module
 */

import type { Registry } from "../registry/registry.ts";
import type { PrepareJobRequest } from "../../shared/schemas.ts";
import { SqlrsError } from "../../shared/errors.ts";

/**
 * Refuses a name that looks like an instance id, and (fail fast, before planning) one that is taken;
 * the job's insertion checks again atomically with the reservation.
 * @throws {SqlrsError} `invalid_argument` or `conflict`
 */
export function checkName(request: PrepareJobRequest, registry: Registry): void {
  if (request.name === undefined) return;
  if (/^[0-9a-f]{8,}$/.test(request.name)) {
    throw new SqlrsError(
      "invalid_argument",
      `Name "${request.name}" looks like an instance id; pick another`,
    );
  }
  if (request.plan_only !== true && request.rebind !== true) checkNameFree(request.name, registry);
}

/** @throws {SqlrsError} `conflict` when the name is bound to an instance or held by another job */
export function checkNameFree(name: string, registry: Registry): void {
  const bound = registry.getName(name);
  if (bound !== undefined && registry.getInstance(bound.instance_id)) {
    throw new SqlrsError(
      "conflict",
      `Name "${name}" is bound to instance ${bound.instance_id}; pass --rebind to move it to the new instance`,
    );
  }
  const holder = registry.nameReservation(name);
  if (holder !== undefined) {
    throw new SqlrsError(
      "conflict",
      `Name "${name}" is taken by job ${holder}, which is still preparing its instance; ` +
        "pick another name, or pass --rebind to move it to this job's instance",
    );
  }
}
