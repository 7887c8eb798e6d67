/**
 * The API of a team engine: the local engine's API (`server.ts`) behind a layer that attributes each
 * request to a user of the users file, answers 404 for what another user owns (see `ownership.ts`),
 * keeps the engine-wide operations (config changes, state deletes, shutdown) for admins, and refuses
 * prepares that would escape to the engine's host (`remote_safety.ts`). The inner API is called with
 * the engine's own token, which never leaves the process.
 *
 * A prepare's files are the ones its client uploaded ({@link RequestSources}): the check reads them in
 * the source tree the engine plans from, and refuses any other file.
 *
 * @module
 */

import { messageOf, notFound, SqlrsError, statusFor } from "../../shared/errors.ts";
import { PrepareJobRequest, RunRequest } from "../../shared/schemas.ts";
import { VERSION, VERSION_HEADER } from "../../shared/version.ts";
import {
  type ListReader,
  ownedInstance,
  ownedJob,
  type OwnerStore,
  refuseOthersName,
  visible,
} from "./ownership.ts";
import { refuseEscapes, refuseRunEscapes } from "./remote_safety.ts";
import type { TeamUser, TeamUsers } from "./users.ts";

/** Where a team engine finds a prepare's inputs. */
export interface RequestSources {
  /**
   * The request with its paths where planning will read them, the directory every file it reads must be
   * under (its uploaded source tree; null when it uploaded nothing), and whether an error of the check is
   * about a file of the tree the client has not uploaded yet.
   */
  inputs(request: PrepareJobRequest): Promise<{
    request: PrepareJobRequest;
    root: string | null;
    missing(error: unknown): boolean;
  }>;
}

/** What the team layer is built on. */
export interface TeamAppDeps {
  inner: (request: Request) => Promise<Response>;
  innerToken: string;
  users: TeamUsers;
  owners: OwnerStore;
  sources: RequestSources;
  log(line: string): void;
}

const ADMIN_ONLY: Array<[string, RegExp]> = [
  ["PATCH", /^\/v1\/config$/],
  ["DELETE", /^\/v1\/config$/],
  ["POST", /^\/v1\/engine\/shutdown$/],
  ["DELETE", /^\/v1\/states\//],
  // Prune sees every user's instances: the team's admin prunes, users delete their own.
  ["POST", /^\/v1\/instances\/prune$/],
];
const JOB_PATH = /^\/v1\/prepare-jobs\/([^/]+)(\/.*)?$/;
const INSTANCE_PATH = /^\/v1\/instances\/([^/]+)$/;
const NAME_PATH = /^\/v1\/names\/([^/]+)$/;
const LISTS: Record<string, "instances" | "names" | "prepare-jobs" | "tasks"> = {
  "/v1/instances": "instances",
  "/v1/names": "names",
  "/v1/prepare-jobs": "prepare-jobs",
  "/v1/tasks": "tasks",
};

/**
 * An error answer of the inner API to one of this layer's own lookups, passed on as it is: a stopping
 * engine's 503 must reach the client with its header, which tells it the request was not acted on.
 */
class InnerAnswer extends Error {
  readonly response: Response;
  constructor(response: Response) {
    super(`The engine answered ${response.status}`);
    this.name = "InnerAnswer";
    this.response = response;
  }
}

function errorResponse(error: SqlrsError): Response {
  return Response.json(error.toJSON(), { status: statusFor(error.code) });
}

/** The JSON of a body, or undefined when it is not JSON (the engine then says what is wrong). */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function bearer(request: Request): string {
  const header = request.headers.get("authorization") ?? "";
  return header.startsWith("Bearer ") ? header.slice(7) : "";
}

/** Builds the team engine's request handler around the local engine's. */
export function createTeamApp(deps: TeamAppDeps): (request: Request) => Promise<Response> {
  const { inner, owners } = deps;

  /** The request, sent to the inner API with the engine's token (and a new path or body). */
  function forward(request: Request, change: { path?: string; body?: string } = {}): Promise<Response> {
    const url = new URL(request.url);
    const headers = new Headers(request.headers);
    headers.set("authorization", `Bearer ${deps.innerToken}`);
    let body: BodyInit | null = request.body;
    if (change.body !== undefined) {
      body = change.body;
      headers.delete("content-length");
    }
    const target = new URL(change.path ?? url.pathname, url);
    target.search = url.search;
    return inner(new Request(target, { method: request.method, headers, body, signal: request.signal }));
  }

  const list: ListReader = async <T>(path: string) => {
    const response = await inner(
      new Request(new URL(path, "http://team.invalid"), {
        headers: { authorization: `Bearer ${deps.innerToken}`, [VERSION_HEADER]: VERSION },
      }),
    );
    if (!response.ok) throw new InnerAnswer(response);
    return await response.json() as T[];
  };

  async function filteredList(request: Request, user: TeamUser, kind: keyof typeof LISTS): Promise<Response> {
    const url = new URL(request.url);
    if (kind === "/v1/tasks" && url.searchParams.has("job")) {
      url.searchParams.set("job", await ownedJob(owners, user, list, url.searchParams.get("job") as string));
    }
    const response = await inner(
      new Request(url, {
        headers: { authorization: `Bearer ${deps.innerToken}`, [VERSION_HEADER]: VERSION },
      }),
    );
    if (!response.ok) return response;
    const items = visible(owners, user, LISTS[kind] as "tasks", await response.json() as unknown[]);
    if ((request.headers.get("accept") ?? "").includes("application/x-ndjson")) {
      return new Response(items.map((item) => `${JSON.stringify(item)}\n`).join(""), {
        headers: { "content-type": "application/x-ndjson" },
      });
    }
    return Response.json(items);
  }

  async function prepare(request: Request, user: TeamUser, submit: boolean): Promise<Response> {
    const text = await request.text();
    const parsed = PrepareJobRequest.safeParse(parseJson(text));
    // The engine answers a malformed request with its usual 400.
    if (!parsed.success) return await forward(request, { body: text });
    const body = parsed.data;
    const inputs = await deps.sources.inputs(body);
    try {
      await refuseEscapes(inputs.request, inputs.root);
    } catch (error) {
      // A file of the tree that the client has not uploaded yet: the engine answers which (409
      // source_inputs_missing) and builds nothing; the client uploads it and asks again, checked again.
      if (!inputs.missing(error)) throw error;
    }
    if (!submit) return await forward(request, { body: JSON.stringify(body) });
    if (body.name !== undefined) await refuseOthersName(owners, user, list, body.name);
    const response = await forward(request, { body: JSON.stringify(body) });
    // 201: accepted; 200: a cache hit answered with the finished job (`?wait=cached`). Either is theirs.
    if (response.status !== 201 && response.status !== 200) return response;
    const answer = await response.json() as { job_id: string };
    owners.setJobOwner(answer.job_id, user.name);
    return Response.json(answer, {
      status: response.status,
      headers: { location: response.headers.get("location") ?? "" },
    });
  }

  async function run(request: Request, user: TeamUser): Promise<Response> {
    const text = await request.text();
    const parsed = RunRequest.safeParse(parseJson(text));
    if (!parsed.success) return await forward(request, { body: text });
    const instance = await ownedInstance(owners, user, list, parsed.data.instance_ref);
    await refuseRunEscapes(parsed.data);
    return await forward(request, { body: JSON.stringify({ ...parsed.data, instance_ref: instance }) });
  }

  async function route(request: Request, user: TeamUser, url: URL): Promise<Response> {
    const { pathname } = url;
    const method = request.method;
    if (!user.admin && ADMIN_ONLY.some(([m, path]) => m === method && path.test(pathname))) {
      throw new SqlrsError("forbidden", `Only an admin user may ${method} ${pathname} on a team engine`);
    }
    if (method === "POST" && pathname === "/v1/prepare-jobs") return await prepare(request, user, true);
    // Each prepare is checked and owned on its own here: a batch would go around both.
    if (method === "POST" && pathname === "/v1/prepare-jobs/batch") {
      throw notFound("A team engine takes each prepare on its own: POST /v1/prepare-jobs");
    }
    if (method === "POST" && pathname === "/v1/cache/explain/prepare") {
      return await prepare(request, user, false);
    }
    if (method === "POST" && pathname === "/v1/runs") return await run(request, user);
    if (method === "POST" && pathname === "/v1/instances/prune") return await forward(request);
    if (method === "GET" && pathname in LISTS) return await filteredList(request, user, pathname);
    const job = JOB_PATH.exec(pathname);
    if (job !== null) {
      const id = await ownedJob(owners, user, list, decodeURIComponent(job[1] as string));
      return await forward(request, { path: `/v1/prepare-jobs/${id}${job[2] ?? ""}` });
    }
    const instance = INSTANCE_PATH.exec(pathname);
    if (instance !== null) {
      const id = await ownedInstance(owners, user, list, decodeURIComponent(instance[1] as string));
      return await forward(request, { path: `/v1/instances/${id}` });
    }
    const name = NAME_PATH.exec(pathname);
    if (name !== null) {
      const ref = decodeURIComponent(name[1] as string);
      const names = visible(owners, user, "names", await list<{ name: string }>("/v1/names"));
      if (!names.some((entry) => entry.name === ref)) throw notFound(`No name "${ref}"`);
    }
    return await forward(request);
  }

  return async function handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const user = await deps.users.authenticate(bearer(request));
    if (url.pathname === "/v1/health") {
      const response = await forward(request);
      const headers = new Headers(response.headers);
      headers.set("x-sqlrs-authenticated", String(user !== undefined));
      return new Response(response.body, { status: response.status, headers });
    }
    if (user === undefined) {
      deps.log(`${request.method} ${url.pathname} 401: unknown bearer token`);
      return errorResponse(
        new SqlrsError("unauthorized", "Missing or unknown bearer token (see the profile's token file)"),
      );
    }
    try {
      return await route(request, user, url);
    } catch (error) {
      if (error instanceof SqlrsError) return errorResponse(error);
      if (error instanceof InnerAnswer) return error.response;
      deps.log(`internal error on ${request.method} ${url.pathname}: ${messageOf(error)}`);
      return errorResponse(new SqlrsError("internal_error", `Internal error: ${messageOf(error)}`));
    }
  };
}
