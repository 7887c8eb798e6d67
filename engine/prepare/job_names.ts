/**
 * The checks on the name a prepare asks to bind its instance to (`--name`), and the binding, which
 * with `--rebind` deletes the instance the name leaves.
 *
 * @module
 */

import type { InstanceRow, Registry } from "../registry/registry.ts";
import type { Instances } from "../instances/instances.ts";
import type { PrepareJobRequest } from "../../shared/schemas.ts";
import { messageOf, SqlrsError } from "../../shared/errors.ts";

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

/**
 * Binds the request's name (if any) to the job's new instance. The instance a `--rebind` takes the
 * name from is deleted (its server stopped, its clone removed) unless `keep_old` is set or another
 * name still points at it; failing to delete it does not fail the job, it is logged.
 */
export async function bindJobName(
  request: PrepareJobRequest,
  instance: InstanceRow,
  deps: { registry: Registry; instances: Instances; log(line: string): void },
): Promise<void> {
  if (request.name === undefined) return;
  const { registry } = deps;
  const previous = registry.getName(request.name)?.instance_id;
  registry.bindName({
    name: request.name,
    instance_id: instance.instance_id,
    state_id: instance.state_id,
    image_id: instance.image_id,
  });
  if (previous === undefined || previous === instance.instance_id || request.keep_old === true) return;
  const old = registry.getInstance(previous);
  // `name` is the first name still bound to it, if any.
  if (old === undefined || old.name !== null) return;
  try {
    await deps.instances.destroy(old);
    deps.log(`rebind: deleted instance ${previous}, which name "${request.name}" left`);
  } catch (error) {
    deps.log(`rebind: cannot delete instance ${previous}, which "${request.name}" left: ${messageOf(error)}`);
  }
}
