/**
 * The runtime contract: where PostgreSQL runs (host processes, Docker, Podman).
 *
 * A runtime turns an image reference into a concrete PostgreSQL build, initialises a base data
 * directory for it, starts and stops servers on clones, and runs psql/pgbench against them. The data
 * directories it works on are volumes a StateFS handed over (`engine/statefs/types.ts`), never paths
 * of its own choosing.
 */

import type { ExecResult, StreamingChild } from "../exec.ts";
import type { Volume } from "../statefs/types.ts";

import type { RuntimeName } from "../../shared/runtime_names.ts";

export type { RuntimeName };

/** A PostgreSQL build resolved from an image reference. Serializable. */
export interface ResolvedImage {
  runtime: RuntimeName;
  /** The reference the user gave (`host`, `host:15`, `postgres:17`). */
  imageId: string;
  /** An immutable identity of the build (a digest, or the server's full version string on the host). */
  resolvedId: string;
  /** `<engine>/<version>`: where this build's base and states live under `engines/`. */
  storeDir: string;
  /** Server major version, e.g. 15. */
  major: number;
  /** Identity of the tools (psql, pgbench) that run steps, for fingerprints. */
  toolIdentity: string;
}

/** A running PostgreSQL server. Serializable, so that a later engine can find it again. */
export interface ServerHandle {
  runtime: RuntimeName;
  /** Process id (host) or container id. */
  runtimeId: string;
  /** The path of the volume the server runs on (recorded as a string: the handle is stored as JSON). */
  dataDir: string;
  /**
   * The address clients on this machine connect to, chosen by the runtime (absent in handles
   * recorded before it was: the loopback address).
   */
  host?: string;
  /** TCP port clients connect to. */
  port: number;
  /** Unix socket directory the engine's own tools use, where the runtime has one. */
  socketDir: string | null;
  /**
   * The role and password of TCP clients (the DSN). A started server has `postgres` and no password
   * (the socket only); engine/instances/credentials.ts sets an instance's role or a build password.
   */
  user: string;
  password: string;
  /** Where the server writes its log. */
  logFile: string;
  /** Host directories the server's container sees read-only at the same paths (container runtimes). */
  mounts?: string[];
}

/** Options of {@link Runtime.start}. */
export interface StartOptions {
  /** A directory private to this server for its socket and log. */
  runDir: string;
  signal?: AbortSignal;
  /**
   * The loopback port to publish the server on (a restart keeps the port its DSN names). When it
   * cannot be bound, the runtime falls back to a free port and the handle says which.
   */
  port?: number;
  /**
   * Host directories that tools run on this server read (the work dir, the scripts' directories).
   * Container runtimes mount them read-only at the same paths; the host runtime needs nothing.
   */
  mounts?: readonly string[];
  /**
   * The data directory is a build area: nothing in it must survive a crash of the machine, because
   * what is kept of it goes through `StateFS.snapshot`, which makes its copy durable itself. The
   * server then runs without fsync, so that stopping it to keep a state skips flushing every file
   * the steps wrote (on btrfs, 0.6 s of a 150-migration build). Instances never run so.
   */
  scratch?: boolean;
}

/** Options of {@link Runtime.spawnTool}. */
export interface ToolOptions {
  cwd: string;
  /** The database to connect to (default `postgres`). */
  database?: string;
  stdin?: string | Uint8Array;
  signal?: AbortSignal;
}

/** Where PostgreSQL runs. */
export interface Runtime {
  readonly name: RuntimeName;
  /** Resolves an image reference (undefined = this runtime's default build). */
  resolveImage(imageId: string | undefined): Promise<ResolvedImage>;
  /**
   * Runs initdb into the empty volume (`StateFS.createEmpty`), without syncing: the caller flushes it
   * (`StateFS.flush`).
   */
  initBase(image: ResolvedImage, volume: Volume): Promise<void>;
  /**
   * Starts a server on the stopped data directory of `volume` (a clone, `StateFS.clone`) and resolves
   * once it accepts connections.
   */
  start(image: ResolvedImage, volume: Volume, options: StartOptions): Promise<ServerHandle>;
  /**
   * Stops a server cleanly (a fast shutdown: no crash recovery on the next start). Idempotent. With
   * `discard` (its data directory is deleted next), a runtime may skip the shutdown checkpoint
   * (the host runtime: an immediate shutdown).
   */
  stop(server: ServerHandle, options?: { discard?: boolean }): Promise<void>;
  /** Whether the server still runs. */
  isRunning(server: ServerHandle): Promise<boolean>;
  /** Starts psql or pgbench connected to the server (connection arguments are appended by the runtime). */
  spawnTool(
    image: ResolvedImage,
    server: ServerHandle,
    tool: "psql" | "pgbench",
    args: readonly string[],
    options: ToolOptions,
  ): StreamingChild;
  /**
   * Runs psql or pgbench like {@link spawnTool} and collects its exit code and output; a non-zero exit
   * is returned, not thrown. For short queries of the engine's own, not for user runs.
   */
  exec(
    image: ResolvedImage,
    server: ServerHandle,
    tool: "psql" | "pgbench",
    args: readonly string[],
    options: ToolOptions,
  ): Promise<ExecResult>;
  /** The connection string a client on this machine uses. */
  dsn(server: ServerHandle, database?: string): string;
  /**
   * Stops every server this runtime runs on a data directory under `root`, except those `keep` accepts.
   * Resolves with the data directories it stopped.
   */
  stopStrays(root: string, keep: (dataDir: string) => boolean): Promise<string[]>;
  /** One line on whether this runtime can work here, for `sqlrs status`. */
  probe(): Promise<{ available: boolean; detail: string }>;
}

/** What the engine gives every runtime it creates. */
export interface RuntimeContext {
  /** The store root (container runtimes label their containers with it). */
  storeRoot: string;
}

/** A runtime as the registry lists it (`engine/runtime/registry.ts`). */
export interface RuntimeRegistration {
  readonly name: RuntimeName;
  create(context: RuntimeContext): Runtime;
}
