/**
 * What one prepare kind is outside the engine: its name, the CLI's text for it, its request (schema
 * and type) and how a client builds that request from tool args and lists the files it uploads. The
 * CLI and `mod.ts` (through `client/`) and the engine's API validation all read these; the engine's
 * side of a kind (planning, steps, team-engine checks) is `engine/prepare/<kind>/`.
 *
 * @module
 */

import type { z } from "../deps.ts";
import type { PrepareRequestCommon } from "../schemas/prepare_request.ts";

/** What the CLI shows and needs to know of a kind. */
export interface PrepareKindInfo {
  /** The tool, as usage lines name its arguments: `-- [psql args...]`. */
  tool: string;
  /** What the tool's arguments are. */
  argsHelp: string;
  /** What `prepare:<kind>` does. */
  prepareDescription: string;
  /** What `plan:<kind>` does. */
  planDescription: string;
  /** Text after the options in `prepare:<kind> --help`. */
  prepareHelp: string;
  /**
   * Whether the tool option `token` takes the next argument as its value, so that the value is never
   * read as the start of a composite run stage (`-c run:psql` is SQL, not a stage).
   */
  takesValue(token: string): boolean;
}

/** The caller's side of a request being built: where relative paths resolve, and its stdin. */
export interface RequestCaller {
  /** The directory relative paths resolve against (sent as `work_dir`). */
  cwd: string;
  /** The caller's stdin, read only when the args ask for it (`-f -`). */
  stdin: () => Promise<string | undefined>;
}

/**
 * A request schema the union of all kinds' requests can pick by `prepare_kind`: a `z.strictObject`
 * whose `prepare_kind` is the kind's name.
 */
export type RequestSchema<R> = z.ZodType<R> & z.core.$ZodTypeDiscriminable;

/**
 * One prepare kind as the CLI, clients and the API's schemas know it: `R` is its request, `O` the
 * name of the library's option for its args.
 */
export interface PrepareKindSpec<
  R extends PrepareRequestCommon & { prepare_kind: string },
  O extends string = string,
> {
  /** `prepare_kind` of its requests; the CLI's commands are `prepare:<name>` and `plan:<name>`. */
  name: R["prepare_kind"];
  /** The CLI's text for it. */
  info: PrepareKindInfo;
  /** The name of the library's option (`mod.ts`'s `PlanOptions`) that carries its tool args. */
  libraryOption: O;
  /** Its `POST /v1/prepare-jobs` body. */
  schema: RequestSchema<R>;
  /** The request's tool args, as given (shown for a job before it is planned). */
  args(request: R): readonly string[];
  /**
   * The request from the caller's tool args, with what they need from the caller's side before they
   * go to an engine (which may run elsewhere): paths made absolute or left for the engine to resolve
   * against `work_dir`, stdin read.
   */
  request(args: readonly string[], caller: RequestCaller): Promise<R>;
  /**
   * The absolute paths of the files an upload to an engine that cannot read the client's files sends
   * first (the engine asks for the files these lead to).
   */
  uploadFiles(request: R): Promise<string[]>;
}
