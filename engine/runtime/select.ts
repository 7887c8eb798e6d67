/**
 * Chooses the runtime for an image reference and finds the runtime of an existing instance.
 *
 * Host builds (`host`, `host:15`, a bare major, or no image) run on the host runtime; container
 * image references go to the container runtime of engine config `container.runtime`
 * (`auto` or a runtime's name, overridden by `SQLRS_CONTAINER_RUNTIME`): `auto` takes the first
 * runtime other than host that answers, in the registry's order (docker, then podman), else fails
 * saying how to start one.
 *
 * @module
 */

import { SqlrsError } from "../../shared/errors.ts";
import { CONTAINER_RUNTIME_SETTINGS, type ContainerRuntimeSetting } from "../../shared/runtime_names.ts";
import type { Runtime, RuntimeName } from "./types.ts";

export type { ContainerRuntimeSetting };

const SETTINGS: readonly string[] = CONTAINER_RUNTIME_SETTINGS;
/** A daemon that answered is not asked again for this long. */
const PROBE_TTL_MS = 10_000;

/** Options of {@link createRuntimeSelector}. */
export interface RuntimeSelectorOptions {
  /** Engine config `container.runtime`, read at every selection (default `auto`). */
  containerRuntime?: () => ContainerRuntimeSetting;
  /** Reads the environment (default `Deno.env.get`), for `SQLRS_CONTAINER_RUNTIME`. */
  env?: (name: string) => string | undefined;
}

/** Picks runtimes. */
export interface RuntimeSelector {
  /** The runtime that serves `imageId` (undefined = the default build). */
  forImage(imageId: string | undefined): Promise<Runtime>;
  /** The container runtime images other than host builds go to, or undefined when none can be used. */
  containerRuntimeName(): Promise<RuntimeName | undefined>;
  /** The runtime of this name. */
  byName(name: RuntimeName): Runtime;
  /** Every runtime known, for status. */
  all(): Runtime[];
}

/** Whether an image reference names a host PostgreSQL build rather than a container image. */
export function isHostImage(imageId: string | undefined): boolean {
  return imageId === undefined || imageId === "host" || /^host:/.test(imageId) || /^\d+$/.test(imageId);
}

/**
 * A container image reference as docker and podman spell it: `[host[:port]/]path[:tag][@digest]`,
 * or a bare image id. Anything else (a filesystem path, `..`) is refused before a runtime sees it.
 */
const IMAGE_REFERENCE =
  /^(?:[a-zA-Z0-9.-]+(?::\d+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$/;

/** @throws {SqlrsError} `invalid_argument` when `imageId` is not an image reference */
function checkImageReference(imageId: string): void {
  if (imageId.length <= 255 && (IMAGE_REFERENCE.test(imageId) || /^sha256:[0-9a-f]{64}$/.test(imageId))) {
    return;
  }
  throw new SqlrsError(
    "invalid_argument",
    `Invalid image "${
      imageId.slice(0, 100)
    }": expected host, host:MAJOR or a container image such as postgres:17`,
  );
}

/** `a, b or c`. */
function oneOf(names: readonly string[]): string {
  return names.length < 2 ? names.join("") : `${names.slice(0, -1).join(", ")} or ${names.at(-1)}`;
}

/** A selector over a fixed set of runtimes. */
export function createRuntimeSelector(
  runtimes: readonly Runtime[],
  options: RuntimeSelectorOptions = {},
): RuntimeSelector {
  const env = options.env ?? ((name: string) => Deno.env.get(name));
  const answered = new Map<RuntimeName, number>();

  function byName(name: RuntimeName): Runtime {
    const runtime = runtimes.find((candidate) => candidate.name === name);
    if (runtime === undefined) {
      throw new SqlrsError("unavailable", `Runtime "${name}" is not available in this sqlrs`);
    }
    return runtime;
  }

  function setting(): { value: ContainerRuntimeSetting; source: string } {
    const fromEnv = env("SQLRS_CONTAINER_RUNTIME");
    if (fromEnv !== undefined && fromEnv !== "") {
      if (!SETTINGS.includes(fromEnv)) {
        throw new SqlrsError(
          "invalid_argument",
          `SQLRS_CONTAINER_RUNTIME="${fromEnv}" is not one of ${SETTINGS.join(", ")}`,
        );
      }
      return { value: fromEnv as ContainerRuntimeSetting, source: "SQLRS_CONTAINER_RUNTIME" };
    }
    return { value: options.containerRuntime?.() ?? "auto", source: "container.runtime" };
  }

  /** Probes a container runtime; resolves with why it cannot be used, or undefined when it can. */
  async function unusable(name: RuntimeName): Promise<string | undefined> {
    const runtime = runtimes.find((candidate) => candidate.name === name);
    if (runtime === undefined) return `${name} is not available in this sqlrs`;
    if (Date.now() - (answered.get(name) ?? -Infinity) < PROBE_TTL_MS) return undefined;
    const probe = await runtime.probe();
    if (!probe.available) return probe.detail;
    answered.set(name, Date.now());
    return undefined;
  }

  function containerNames(): string[] {
    return runtimes.filter((runtime) => runtime.name !== "host").map((runtime) => runtime.name);
  }

  async function containerRuntime(imageId: string): Promise<Runtime> {
    const { value, source } = setting();
    if (value === "host") {
      throw new SqlrsError(
        "invalid_argument",
        `Image "${imageId}" is a container image, but ${source} is "host": use --image host, or set ` +
          `container.runtime to ${oneOf(["auto", ...containerNames()])}`,
      );
    }
    if (value !== "auto") {
      const why = await unusable(value);
      if (why !== undefined) {
        throw new SqlrsError("unavailable", `Cannot run image "${imageId}" (${source} is ${value}): ${why}`);
      }
      return byName(value);
    }
    const reasons: string[] = [];
    for (const runtime of runtimes) {
      if (runtime.name === "host") continue;
      const why = await unusable(runtime.name);
      if (why === undefined) return runtime;
      reasons.push(why);
    }
    throw new SqlrsError(
      "unavailable",
      `Cannot run image "${imageId}": no container runtime answers (${reasons.join("; ")}). ` +
        "Start dockerd or podman, or use --image host",
    );
  }

  return {
    async forImage(imageId) {
      if (isHostImage(imageId)) return byName("host");
      checkImageReference(imageId as string);
      return await containerRuntime(imageId as string);
    },
    async containerRuntimeName() {
      try {
        return (await containerRuntime("")).name;
      } catch {
        return undefined;
      }
    },
    byName,
    all: () => [...runtimes],
  };
}
