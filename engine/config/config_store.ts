/**
 * The engine's configuration: user overrides in `<store>/config.json`, merged over the defaults of
 * `EngineConfig`. Every change is validated as a whole before it is written (atomically).
 *
 * @module
 */

import { z } from "../../shared/deps.ts";
import { EngineConfig } from "../../shared/schemas.ts";
import { invalidArgument, messageOf, notFound } from "../../shared/errors.ts";
import { writeFileAtomic } from "../../shared/paths.ts";
import { zodIssueText } from "../api/validation.ts";

type Json = Record<string, unknown>;

/** Splits `a.b[0].c` into `["a", "b", 0, "c"]`. */
export function parseConfigPath(path: string): Array<string | number> {
  const segments: Array<string | number> = [];
  for (const part of path.split(".")) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)((?:\[\d+\])*)$/.exec(part);
    if (match === null) throw invalidArgument(`Invalid config path "${path}": expected a.b.c or a.b[0]`);
    segments.push(match[1] as string);
    for (const index of (match[2] ?? "").matchAll(/\[(\d+)\]/g)) segments.push(Number(index[1]));
  }
  return segments;
}

function lookup(root: unknown, segments: ReadonlyArray<string | number>): { found: boolean; value: unknown } {
  let node: unknown = root;
  for (const segment of segments) {
    if (node === null || typeof node !== "object" || !(segment in (node as Json))) {
      return { found: false, value: undefined };
    }
    node = (node as Json)[segment as string];
  }
  return { found: true, value: node };
}

function assign(root: Json, segments: ReadonlyArray<string | number>, value: unknown): void {
  let node: Json = root;
  segments.slice(0, -1).forEach((segment, i) => {
    const next = node[segment as string];
    if (next === null || typeof next !== "object") {
      node[segment as string] = typeof segments[i + 1] === "number" ? [] : {};
    }
    node = node[segment as string] as Json;
  });
  node[segments[segments.length - 1] as string] = value;
}

function remove(root: Json, segments: ReadonlyArray<string | number>): boolean {
  const parent = lookup(root, segments.slice(0, -1));
  const last = segments[segments.length - 1] as string;
  if (
    !parent.found || parent.value === null || typeof parent.value !== "object" ||
    !(last in (parent.value as Json))
  ) {
    return false;
  }
  delete (parent.value as Json)[last];
  return true;
}

function validate(overrides: Json): EngineConfig {
  const parsed = EngineConfig.safeParse(overrides);
  if (!parsed.success) {
    throw invalidArgument(`Invalid config: ${zodIssueText(parsed.error)}`, { issues: parsed.error.issues });
  }
  return parsed.data;
}

/** A check of a change before it is written; throws to refuse it. */
export type ConfigCheck = (next: EngineConfig, previous: EngineConfig) => Promise<void>;

/** Reads and changes the engine config. */
export class ConfigStore {
  #file: string;
  #overrides: Json;
  #effective: EngineConfig;
  #problem: string | undefined;
  #checks: ConfigCheck[] = [];

  private constructor(file: string, overrides: Json, problem: string | undefined) {
    this.#file = file;
    this.#overrides = overrides;
    this.#effective = problem === undefined ? validate(overrides) : validate({});
    this.#problem = problem;
  }

  /**
   * Loads `<store>/config.json` (absent = no overrides). A file that cannot be read or is invalid
   * does not keep the engine from starting: the defaults apply, {@link problem} says why, and
   * `config set`/`config rm` can repair it.
   */
  static async open(file: string): Promise<ConfigStore> {
    let text: string;
    try {
      text = await Deno.readTextFile(file);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return new ConfigStore(file, {}, undefined);
      return new ConfigStore(file, {}, `Cannot read engine config ${file}: ${messageOf(error)}`);
    }
    let overrides: unknown;
    try {
      overrides = JSON.parse(text);
    } catch (error) {
      return new ConfigStore(
        file,
        {},
        `Engine config ${file} is not JSON (${messageOf(error)}); the defaults apply`,
      );
    }
    if (overrides === null || typeof overrides !== "object" || Array.isArray(overrides)) {
      return new ConfigStore(file, {}, `Engine config ${file} is not a JSON object; the defaults apply`);
    }
    try {
      validate(overrides as Json);
    } catch (error) {
      return new ConfigStore(
        file,
        overrides as Json,
        `${messageOf(error)} in ${file}; the defaults apply until it is fixed (sqlrs config rm PATH)`,
      );
    }
    return new ConfigStore(file, overrides as Json, undefined);
  }

  /** Why the config file is not in effect, or undefined when it is. */
  get problem(): string | undefined {
    return this.#problem;
  }

  /** Adds a check that every later change must pass before it is written. */
  onChange(check: ConfigCheck): void {
    this.#checks.push(check);
  }

  /** The config with every default applied. */
  get effective(): EngineConfig {
    return this.#effective;
  }

  /** A value at `path`, from the overrides or (with `effective`) from the merged config; `undefined` path = all. */
  get(path: string | undefined, effective: boolean): unknown {
    const root = effective ? this.#effective : this.#overrides;
    if (path === undefined) return root;
    const { found, value } = lookup(root, parseConfigPath(path));
    if (!found) throw notFound(`Config path "${path}" is not set${effective ? "" : " (try --effective)"}`);
    return value;
  }

  /** Sets `path` to `value` after validating the whole result. */
  async set(path: string, value: unknown): Promise<unknown> {
    const next = structuredClone(this.#overrides);
    assign(next, parseConfigPath(path), value);
    await this.#commit(next);
    return this.get(path, true);
  }

  /** Removes the override at `path`; answers the effective value afterwards (the default, if any). */
  async remove(path: string): Promise<unknown> {
    const next = structuredClone(this.#overrides);
    if (!remove(next, parseConfigPath(path))) throw notFound(`Config path "${path}" is not set`);
    await this.#commit(next);
    const { value } = lookup(this.#effective, parseConfigPath(path));
    return value ?? null;
  }

  async #commit(next: Json): Promise<void> {
    const effective = validate(next);
    for (const check of this.#checks) await check(effective, this.#effective);
    await writeFileAtomic(this.#file, `${JSON.stringify(next, null, 2)}\n`, 0o600);
    this.#overrides = next;
    this.#effective = effective;
    this.#problem = undefined;
  }
}

/** The JSON Schema of the engine config, generated from the same zod object the engine validates with. */
export function engineConfigJsonSchema(): unknown {
  return z.toJSONSchema(EngineConfig, { io: "input" });
}
