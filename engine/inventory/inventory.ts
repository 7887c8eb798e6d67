/**
 * What sqlrs keeps, as the API shows it: instances, states, names and jobs; resolution of instance
 * references (id, 8+ hex prefix, name); and delete trees with recurse/force/dry-run, where a blocked
 * node blocks the whole tree and nothing is deleted partially.
 *
 * @module
 */

import type { InstanceRow, Registry, StateRow } from "../registry/registry.ts";
import type { Instances } from "../instances/instances.ts";
import type { RuntimeSelector } from "../runtime/select.ts";
import type { States } from "../states/states.ts";
import type { StoreLayout } from "../store_layout.ts";
import type {
  DeleteResult,
  DeleteTreeNode,
  InstanceEntry,
  NameEntry,
  StateEntry,
} from "../../shared/schemas.ts";
import { invalidArgument, notFound, shortPrefixError, SqlrsError } from "../../shared/errors.ts";

/** Dependencies of the inventory. */
export interface InventoryDeps {
  registry: Registry;
  instances: Instances;
  runtimes: RuntimeSelector;
  states: States;
  layout: StoreLayout;
  /** Whether a job is still running in this engine. */
  jobActive(jobId: string): boolean;
  cancelJob(jobId: string): void;
}

interface DeleteOptions {
  force: boolean;
  dryRun: boolean;
  recurse?: boolean;
}

function isExpired(expiresAt: string | null): boolean {
  return expiresAt !== null && Date.parse(expiresAt) < Date.now();
}

function outcomeOf(root: DeleteTreeNode, dryRun: boolean): DeleteResult["outcome"] {
  if (root.blocked !== undefined) return "blocked";
  return dryRun ? "would_delete" : "deleted";
}

/** Lists, resolves and deletes. */
export class Inventory {
  readonly #deps: InventoryDeps;

  constructor(deps: InventoryDeps) {
    this.#deps = deps;
  }

  async #instanceEntry(row: InstanceRow): Promise<InstanceEntry> {
    const running = await this.#deps.runtimes.byName(row.image.runtime).isRunning(row.server);
    return {
      instance_id: row.instance_id,
      image_id: row.image_id,
      state_id: row.state_id,
      name: row.name,
      created_at: row.created_at,
      expires_at: row.expires_at,
      status: isExpired(row.expires_at) ? "expired" : running ? "running" : "stopped",
      runtime: row.server.runtime,
      runtime_id: row.server.runtimeId,
      port: row.server.port,
      dsn: this.#deps.instances.dsn(row),
    };
  }

  #stateEntry(row: StateRow): StateEntry {
    return {
      state_id: row.state_id,
      parent_state_id: row.parent_state_id,
      image_id: row.image_id,
      prepare_kind: row.prepare_kind,
      prepare_args_normalized: row.prepare_args_normalized,
      created_at: row.created_at,
      size_bytes: row.size_bytes,
      last_used_at: row.last_used_at,
      use_count: row.use_count,
      refcount: this.#deps.registry.instancesOfState(row.state_id).length,
    };
  }

  async listInstances(
    filter: { idPrefix?: string | undefined; state?: string | undefined },
  ): Promise<InstanceEntry[]> {
    const { registry } = this.#deps;
    let rows = filter.idPrefix === undefined
      ? registry.listInstances()
      : registry.instancesWithPrefix(this.#hexPrefix(filter.idPrefix));
    if (filter.state !== undefined) {
      rows = rows.filter((row) => row.state_id.startsWith(filter.state as string));
    }
    return await Promise.all(rows.map((row) => this.#instanceEntry(row)));
  }

  /** Resolves an instance id, a unique 8+ hex prefix, or a name. */
  resolveInstance(ref: string): { row: InstanceRow; byName: boolean } {
    const { registry } = this.#deps;
    const exact = registry.getInstance(ref);
    if (exact !== undefined) return { row: exact, byName: false };
    const bound = registry.getName(ref);
    if (bound !== undefined) {
      const row = registry.getInstance(bound.instance_id);
      if (row === undefined) {
        throw notFound(`Name "${ref}" points to instance ${bound.instance_id}, which no longer exists`);
      }
      registry.touchName(ref);
      return { row, byName: true };
    }
    if (/^[0-9a-fA-F]{8,64}$/.test(ref)) {
      const matches = registry.instancesWithPrefix(ref.toLowerCase());
      if (matches.length === 1) return { row: matches[0] as InstanceRow, byName: false };
      if (matches.length > 1) {
        throw new SqlrsError(
          "ambiguous",
          `Cannot resolve instance "${ref}": prefix matches ${matches.length} instances: ${
            matches.map((m) => m.instance_id).join(", ")
          }`,
          { details: { candidates: matches.map((m) => m.instance_id) } },
        );
      }
    }
    throw shortPrefixError(ref) ?? notFound(`Instance "${ref}" not found`);
  }

  async getInstance(ref: string): Promise<{ entry: InstanceEntry; byName: boolean }> {
    const { row, byName } = this.resolveInstance(ref);
    return { entry: await this.#instanceEntry(row), byName };
  }

  listStates(filter: { idPrefix?: string | undefined }): StateEntry[] {
    const prefix = filter.idPrefix === undefined ? "" : this.#hexPrefix(filter.idPrefix);
    return this.#deps.registry.listStates().filter((row) => row.state_id.startsWith(prefix)).map((row) =>
      this.#stateEntry(row)
    );
  }

  #resolveState(ref: string): StateRow {
    const prefix = this.#hexPrefix(ref);
    const matches = this.#deps.registry.listStates().filter((row) => row.state_id.startsWith(prefix));
    if (matches.length === 0) throw notFound(`State "${ref}" not found`);
    if (matches.length > 1) {
      throw new SqlrsError(
        "ambiguous",
        `Cannot resolve state "${ref}": prefix matches ${matches.length} states`,
        {
          details: { candidates: matches.map((m) => m.state_id) },
        },
      );
    }
    return matches[0] as StateRow;
  }

  getState(ref: string): StateEntry {
    return this.#stateEntry(this.#resolveState(ref));
  }

  listNames(): NameEntry[] {
    const { registry } = this.#deps;
    return registry.listNames().map((name) => {
      const instance = registry.getInstance(name.instance_id);
      return {
        name: name.name,
        instance_id: instance === undefined ? null : name.instance_id,
        image_id: name.image_id,
        state_id: name.state_id,
        status: instance === undefined ? "missing" : isExpired(instance.expires_at) ? "expired" : "active",
        last_used_at: name.last_used_at,
      };
    });
  }

  getName(name: string): NameEntry {
    const entry = this.listNames().find((candidate) => candidate.name === name);
    if (entry === undefined) throw notFound(`Name "${name}" not found`);
    return entry;
  }

  #hexPrefix(value: string): string {
    if (!/^[0-9a-fA-F]{8,64}$/.test(value)) {
      throw invalidArgument(`Invalid id prefix "${value.slice(0, 80)}": use 8 to 64 hex characters`);
    }
    return value.toLowerCase();
  }

  // -- deletion -------------------------------------------------------------------------------------

  /** Counts client connections to an instance (its own sessions, not the engine's query). */
  async connections(row: InstanceRow): Promise<number> {
    const runtime = this.#deps.runtimes.byName(row.image.runtime);
    if (!(await runtime.isRunning(row.server))) return 0;
    const { code, stdout } = await runtime.exec(row.image, row.server, "psql", [
      "-X",
      "-A",
      "-t",
      "-c",
      "select count(*) from pg_stat_activity where backend_type = 'client backend' and pid <> pg_backend_pid()",
    ], { cwd: "/" });
    if (code !== 0) {
      throw new SqlrsError("internal_error", `Cannot count connections of instance ${row.instance_id}`);
    }
    return Number(stdout.trim());
  }

  async #terminateConnections(row: InstanceRow): Promise<void> {
    const runtime = this.#deps.runtimes.byName(row.image.runtime);
    await runtime.exec(row.image, row.server, "psql", [
      "-X",
      "-q",
      "-c",
      "select pg_terminate_backend(pid) from pg_stat_activity where backend_type = 'client backend' and pid <> pg_backend_pid()",
    ], { cwd: "/" });
  }

  async #instanceNode(row: InstanceRow, force: boolean): Promise<DeleteTreeNode> {
    const connections = await this.connections(row);
    const node: DeleteTreeNode = {
      kind: "instance",
      id: row.instance_id,
      connections,
      runtime_id: row.server.runtimeId,
    };
    if (connections > 0 && !force) node.blocked = "active_connections";
    return node;
  }

  async #stateNode(row: StateRow, options: DeleteOptions): Promise<DeleteTreeNode> {
    const { registry } = this.#deps;
    const node: DeleteTreeNode = { kind: "state", id: row.state_id };
    // Running jobs build on it or build it: deleting it would leave a job's result dangling.
    if (this.#deps.states.leases.held().has(row.state_id)) {
      node.blocked = "active_tasks";
      return node;
    }
    const instances = registry.instancesOfState(row.state_id);
    const children = registry.childStates(row.state_id);
    if (instances.length + children.length === 0) return node;
    if (options.recurse !== true) {
      node.blocked = "has_descendants";
      return node;
    }
    node.children = [
      ...await Promise.all(instances.map((instance) => this.#instanceNode(instance, options.force))),
      ...await Promise.all(children.map((child) => this.#stateNode(child, options))),
    ];
    if (node.children.some((child) => child.blocked !== undefined)) node.blocked = "blocked_by_descendant";
    return node;
  }

  async #deleteTree(node: DeleteTreeNode): Promise<void> {
    for (const child of node.children ?? []) await this.#deleteTree(child);
    const { registry } = this.#deps;
    if (node.kind === "instance") {
      const row = registry.getInstance(node.id);
      if (row === undefined) return;
      if ((node.connections ?? 0) > 0) await this.#terminateConnections(row);
      await this.#deps.instances.destroy(row);
    } else if (node.kind === "state") {
      const row = registry.getState(node.id);
      if (row === undefined) return;
      await this.#deps.states.remove(row);
    }
  }

  async deleteInstance(ref: string, options: DeleteOptions): Promise<DeleteResult> {
    const { row } = this.resolveInstance(ref);
    const root = await this.#instanceNode(row, options.force);
    const outcome = outcomeOf(root, options.dryRun);
    if (outcome === "deleted") await this.#deleteTree(root);
    return { dry_run: options.dryRun, outcome, root };
  }

  async deleteState(ref: string, options: DeleteOptions): Promise<DeleteResult> {
    const root = await this.#stateNode(this.#resolveState(ref), options);
    const outcome = outcomeOf(root, options.dryRun);
    if (outcome === "deleted") await this.#deleteTree(root);
    return { dry_run: options.dryRun, outcome, root };
  }

  async deleteJob(jobId: string, options: DeleteOptions): Promise<DeleteResult> {
    const { registry } = this.#deps;
    if (registry.getJob(jobId) === undefined) throw notFound(`Job ${jobId} not found`);
    const root: DeleteTreeNode = { kind: "job", id: jobId };
    if (this.#deps.jobActive(jobId) && !options.force) root.blocked = "active_tasks";
    const outcome = outcomeOf(root, options.dryRun);
    if (outcome === "deleted") {
      if (this.#deps.jobActive(jobId)) this.#deps.cancelJob(jobId);
      await Deno.remove(this.#deps.layout.jobDir(jobId), { recursive: true }).catch(() => {});
      registry.deleteJob(jobId);
    }
    return { dry_run: options.dryRun, outcome, root };
  }
}
