/**
 * Instances: writable clones of a state served by a running PostgreSQL. Creating one clones the
 * state and starts a server; destroying one stops the server and removes the clone, the files and
 * the rows, in that order, and is idempotent.
 *
 * @module
 */

import { join } from "node:path";
import type { InstanceRow, Registry } from "../registry/registry.ts";
import type { ResolvedImage, ServerHandle } from "../runtime/types.ts";
import type { RuntimeSelector } from "../runtime/select.ts";
import type { StateFS } from "../statefs/types.ts";
import type { StoreLayout } from "../store_layout.ts";
import { messageOf, SqlrsError } from "../../shared/errors.ts";
import { randomHex } from "../../shared/random.ts";
import { createInstanceRole, newInstanceCredential } from "./credentials.ts";

/** What a new instance is made from. */
export interface NewInstance {
  stateId: string;
  stateDir: string;
  image: ResolvedImage;
  jobId: string | null;
  expiresAt: string | null;
  signal?: AbortSignal;
}

/** Creates, restarts and destroys instances. */
export class Instances {
  readonly #registry: Registry;
  readonly #layout: StoreLayout;
  readonly #statefs: StateFS;
  readonly #runtimes: RuntimeSelector;
  readonly #log: (line: string) => void;

  constructor(
    registry: Registry,
    layout: StoreLayout,
    statefs: StateFS,
    runtimes: RuntimeSelector,
    log: (line: string) => void,
  ) {
    this.#registry = registry;
    this.#layout = layout;
    this.#statefs = statefs;
    this.#runtimes = runtimes;
    this.#log = log;
  }

  /**
   * Clones a state, starts a server on it and creates the instance's own role (its DSN's user, see
   * credentials.ts); the instance row exists only once it is ready.
   */
  async create(spec: NewInstance): Promise<InstanceRow> {
    const instanceId = randomHex(16);
    const dir = this.#layout.instanceDir(instanceId);
    const runtime = this.#runtimes.byName(spec.image.runtime);
    await Deno.mkdir(join(dir, "run"), { recursive: true });
    let server: ServerHandle | undefined;
    const started = performance.now();
    try {
      const dataDir = await this.#statefs.clone(spec.stateDir, join(dir, "data"));
      const cloned = performance.now();
      const startOptions = spec.signal === undefined
        ? { runDir: join(dir, "run") }
        : { runDir: join(dir, "run"), signal: spec.signal };
      server = await runtime.start(spec.image, dataDir, startOptions);
      const ready = performance.now();
      server = await createInstanceRole(server, newInstanceCredential(instanceId));
      const credentialed = performance.now();
      this.#registry.insertInstance({
        instance_id: instanceId,
        state_id: spec.stateId,
        image_id: spec.image.imageId,
        image: spec.image,
        server,
        instance_dir: dir,
        job_id: spec.jobId,
        expires_at: spec.expiresAt,
      });
      this.#registry.touchState(spec.stateId);
      const ms = (from: number, to: number) => `${(to - from).toFixed(1)} ms`;
      this.#log(
        `instance ${instanceId} (job ${spec.jobId ?? "-"}): clone ${ms(started, cloned)}, ` +
          `start to ready ${ms(cloned, ready)}, role ${ms(ready, credentialed)}, ` +
          `recorded ${ms(credentialed, performance.now())}`,
      );
    } catch (error) {
      if (server !== undefined) await runtime.stop(server).catch(() => {});
      await this.#removeFiles(dir);
      throw error;
    }
    return this.#registry.getInstance(instanceId) as InstanceRow;
  }

  /** The connection string of an instance. */
  dsn(instance: InstanceRow): string {
    return this.#runtimes.byName(instance.image.runtime).dsn(instance.server);
  }

  /**
   * Makes sure the instance's server runs, restarting it from its data directory when it has gone
   * (after a reboot, or a container removed by hand). Reports what it did through `onLog`.
   */
  async ensureRunning(instance: InstanceRow, onLog: (line: string) => void): Promise<InstanceRow> {
    const runtime = this.#runtimes.byName(instance.image.runtime);
    if (await runtime.isRunning(instance.server)) return instance;
    onLog(
      `run: server of instance ${instance.instance_id} is not running - restarting it from its data directory`,
    );
    try {
      await Deno.stat(instance.server.dataDir);
    } catch {
      throw new SqlrsError(
        "internal_error",
        `Cannot restart instance ${instance.instance_id}: its data directory is gone`,
        { details: { instance_id: instance.instance_id } },
      );
    }
    // On the recorded port, and with the role the data directory already has: the DSN the client was
    // given stays valid.
    const started = await runtime.start(instance.image, instance.server.dataDir, {
      runDir: join(instance.instance_dir, "run"),
      port: instance.server.port,
    });
    const server = { ...started, user: instance.server.user, password: instance.server.password };
    this.#registry.updateInstanceServer(instance.instance_id, server);
    onLog(`run: server restarted (${runtime.name} ${server.runtimeId})`);
    if (server.port !== instance.server.port) {
      onLog(
        `run: port ${instance.server.port} is taken, so instance ${instance.instance_id} now listens on ` +
          `${server.port}: its DSN changed (sqlrs ls -i shows the new one)`,
      );
    }
    return { ...instance, server };
  }

  /** Stops the server, removes the clone and the files, then the rows. Idempotent. */
  async destroy(instance: InstanceRow): Promise<void> {
    const runtime = this.#runtimes.byName(instance.image.runtime);
    await runtime.stop(instance.server);
    await this.#removeFiles(instance.instance_dir);
    this.#registry.deleteInstance(instance.instance_id);
  }

  async #removeFiles(dir: string): Promise<void> {
    await this.#statefs.remove(join(dir, "data"));
    await Deno.remove(dir, { recursive: true }).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) {
        throw new SqlrsError("internal_error", `Cannot remove ${dir}: ${messageOf(error)}`, { cause: error });
      }
    });
  }
}
