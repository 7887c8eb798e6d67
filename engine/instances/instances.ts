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
import type { StateFS, Volume } from "../statefs/types.ts";
import type { StoreLayout } from "../store_layout.ts";
import { messageOf, SqlrsError } from "../../shared/errors.ts";
import { randomHex } from "../../shared/random.ts";
import { createInstanceRole, newInstanceCredential, passwordVerifier } from "./credentials.ts";

/** What a new instance is made from. */
export interface NewInstance {
  stateId: string;
  stateDir: string;
  /**
   * A clone whose content is the state's (a prepare's build area), which the instance may take by
   * {@link StateFS.adopt} instead of cloning the state; the caller removes it if it was not taken.
   */
  spareClone?: string;
  image: ResolvedImage;
  jobId: string | null;
  expiresAt: string | null;
  signal?: AbortSignal;
}

/** An instance started by {@link Instances.start} and not yet recorded. */
export interface StartedInstance {
  instanceId: string;
  stateId: string;
  image: ResolvedImage;
  /** Its server, with the instance's role and password. */
  server: ServerHandle;
  dir: string;
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
    const started = await this.start(spec);
    return this.record(started, { jobId: spec.jobId, expiresAt: spec.expiresAt });
  }

  /**
   * Clones a state and starts a server with the instance's own role, without recording it: nobody
   * sees it (`ls -i`) until {@link Instances.record}. Unrecorded, its files are removed by the next
   * engine's recovery (under `instances/`, no row) and its server stopped as a stray.
   */
  async start(spec: Omit<NewInstance, "jobId" | "expiresAt">): Promise<StartedInstance> {
    const instanceId = randomHex(16);
    const dir = this.#layout.instanceDir(instanceId);
    const runtime = this.#runtimes.byName(spec.image.runtime);
    await Deno.mkdir(join(dir, "run"), { recursive: true });
    let server: ServerHandle | undefined;
    const started = performance.now();
    const credential = newInstanceCredential(instanceId);
    const verifier = passwordVerifier(credential.password);
    try {
      const volume = await this.#cloneOrAdopt(spec, join(dir, "data"));
      const cloned = performance.now();
      const startOptions = spec.signal === undefined
        ? { runDir: join(dir, "run") }
        : { runDir: join(dir, "run"), signal: spec.signal };
      server = await runtime.start(spec.image, volume, startOptions);
      const ready = performance.now();
      server = await createInstanceRole(server, credential, { verifier });
      const ms = (from: number, to: number) => `${(to - from).toFixed(1)} ms`;
      this.#log(
        `instance ${instanceId}: clone ${ms(started, cloned)}, start to ready ${ms(cloned, ready)}, ` +
          `role ${ms(ready, performance.now())}`,
      );
      return { instanceId, stateId: spec.stateId, image: spec.image, server, dir };
    } catch (error) {
      if (server !== undefined) await runtime.stop(server).catch(() => {});
      await this.#removeFiles(dir);
      throw error;
    }
  }

  /** Records a started instance: from now on it is the user's (listed, deletable, its DSN handed out). */
  record(
    started: StartedInstance,
    owner: { jobId: string | null; expiresAt: string | null },
  ): InstanceRow {
    this.#registry.insertInstance({
      instance_id: started.instanceId,
      state_id: started.stateId,
      image_id: started.image.imageId,
      image: started.image,
      server: started.server,
      instance_dir: started.dir,
      job_id: owner.jobId,
      expires_at: owner.expiresAt,
    });
    this.#registry.touchState(started.stateId);
    return this.#registry.getInstance(started.instanceId) as InstanceRow;
  }

  /** Stops an unrecorded instance and removes its files. Idempotent. */
  async discard(started: StartedInstance): Promise<void> {
    await this.#runtimes.byName(started.image.runtime).stop(started.server, { discard: true });
    await this.#removeFiles(started.dir);
  }

  /** The instance's clone: the spare clone moved into place where the backend can, else a new clone. */
  async #cloneOrAdopt(spec: Pick<NewInstance, "stateDir" | "spareClone">, dst: string): Promise<Volume> {
    if (spec.spareClone !== undefined && this.#statefs.adopt !== undefined) {
      try {
        return await this.#statefs.adopt(spec.spareClone, dst);
      } catch (error) {
        this.#log(`instance: could not take the build area's clone (${messageOf(error)}); cloning the state`);
      }
    }
    return await this.#statefs.clone(spec.stateDir, dst);
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
    const volume = await this.#statefs.reattach(instance.server.dataDir);
    const started = await runtime.start(instance.image, volume, {
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

  /**
   * Returns an instance to the state at `stateDir`: stops its server, replaces its clone by that of a
   * warm instance of the same state from `takeWarm` (stopped and moved into place, on the copy
   * backend), else by a new clone of the state, and starts it again on its port with its own
   * role and password, so its DSN stays valid. Every change made on the instance is gone.
   *
   * What it needs beyond a server restart: the new clone (made while the old server stops, where the
   * backend can move a clone into place) and one round trip that creates the role.
   */
  async reset(
    instance: InstanceRow,
    stateDir: string,
    takeWarm: () => StartedInstance | undefined,
  ): Promise<InstanceRow> {
    const runtime = this.#runtimes.byName(instance.image.runtime);
    const t0 = performance.now();
    const { user, password } = instance.server;
    const verifier = passwordVerifier(password);
    // The old clone is deleted (no checkpoint needed) while its replacement is made.
    const [stop, made] = await Promise.allSettled([
      runtime.stop(instance.server, { discard: true }),
      this.#replacementClone(instance, stateDir, takeWarm),
    ]);
    if (stop.status === "rejected") {
      // The instance keeps its clone; the replacement (a new clone, or a warm instance taken) goes.
      if (made.status === "fulfilled") await made.value?.remove().catch(() => {});
      throw stop.reason;
    }
    if (made.status === "rejected") throw made.reason;
    const replacement = made.value;
    const stopped = performance.now();
    const dataPath = join(instance.instance_dir, "data");
    // What is left to remove is removed while the server starts (a subvolume delete, a tree).
    const leftovers: Array<() => Promise<void>> = [];
    const aside = join(instance.instance_dir, `data.reset-${randomHex(4)}`);
    try {
      await Deno.rename(dataPath, aside);
      leftovers.push(() => this.#statefs.remove(aside));
    } catch {
      await this.#statefs.remove(dataPath); // a mount (overlay) cannot be renamed
    }
    let volume: Volume | undefined;
    if (replacement !== undefined && this.#statefs.adopt !== undefined) {
      try {
        volume = await this.#statefs.adopt(replacement.path, dataPath);
      } catch (error) {
        this.#log(`reset: could not move ${replacement.path} into place (${messageOf(error)}); cloning`);
      }
      leftovers.push(replacement.remove);
    }
    // A warm clone has the warm instance's role: it goes in the round trip that creates this one's.
    const replaces = volume === undefined ? undefined : replacement?.role;
    volume ??= await this.#statefs.clone(stateDir, dataPath);
    const cloned = performance.now();
    const [started] = await Promise.all([
      runtime.start(instance.image, volume, {
        runDir: join(instance.instance_dir, "run"),
        port: instance.server.port,
      }),
      ...leftovers.map((remove) =>
        remove().catch((error) => this.#log(`reset: cannot remove a leftover: ${messageOf(error)}`))
      ),
    ]);
    const ready = performance.now();
    const server = await createInstanceRole(started, { user, password }, { replaces, verifier });
    this.#registry.updateInstanceServer(instance.instance_id, server);
    this.#registry.touchState(instance.state_id);
    const ms = (from: number, to: number) => `${(to - from).toFixed(1)} ms`;
    this.#log(
      `reset ${instance.instance_id} (${replacement?.role === undefined ? "cloned" : "warm"}): ` +
        `stop and clone ${ms(t0, stopped)}, into place ${ms(stopped, cloned)}, start ${ms(cloned, ready)}, ` +
        `role ${ms(ready, performance.now())}`,
    );
    return { ...instance, server };
  }

  /**
   * The clone a reset moves into place, made while the instance's server stops: a warm instance's
   * (stopped cleanly) where a clone is a copy, else a new clone beside the instance's where the
   * backend can move one; undefined where it cannot (overlay: the reset clones in place).
   */
  async #replacementClone(
    instance: InstanceRow,
    stateDir: string,
    takeWarm: () => StartedInstance | undefined,
  ): Promise<{ path: string; role?: string; remove(): Promise<void> } | undefined> {
    if (this.#statefs.adopt === undefined) return undefined;
    // Only where a clone is a copy does a warm clone pay: its clean stop costs more than a snapshot.
    const warm = this.#statefs.kind === "copy" ? takeWarm() : undefined;
    if (warm !== undefined) {
      await this.#runtimes.byName(warm.image.runtime).stop(warm.server);
      return {
        path: join(warm.dir, "data"),
        role: warm.server.user,
        remove: () => this.#removeFiles(warm.dir),
      };
    }
    const path = join(instance.instance_dir, `data.next-${randomHex(4)}`);
    await this.#statefs.clone(stateDir, path);
    return { path, remove: () => this.#statefs.remove(path) };
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
