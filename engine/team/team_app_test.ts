import assert from "node:assert/strict";
import { createTeamApp } from "./team_app.ts";
import { addUser, TeamUsers } from "./users.ts";

const ALICE_INSTANCE = "a".repeat(32);
const BOB_INSTANCE = "b".repeat(32);

/** The local API as far as the team layer reads it: lists, and an instance by id. */
function innerApi(state: { stopping: boolean; seen: string[] }) {
  const instances = [{ instance_id: ALICE_INSTANCE, name: "dev" }, { instance_id: BOB_INSTANCE, name: null }];
  return (request: Request): Promise<Response> => {
    const { pathname } = new URL(request.url);
    assert.equal(request.headers.get("authorization"), "Bearer inner");
    state.seen.push(`${request.method} ${pathname}`);
    if (state.stopping) {
      return Promise.resolve(
        Response.json({ code: "unavailable", message: "stopping" }, {
          status: 503,
          headers: { "x-sqlrs-stopping": "true" },
        }),
      );
    }
    if (pathname === "/v1/instances") return Promise.resolve(Response.json(instances));
    if (pathname === "/v1/names") {
      return Promise.resolve(Response.json([{ name: "dev", instance_id: ALICE_INSTANCE }]));
    }
    return Promise.resolve(Response.json({ ok: true }));
  };
}

Deno.test("createTeamApp() answers per user: 401, 403, 404 for another's instance, filtered lists, a stopping 503", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/users.jsonl`;
    const alice = await addUser(file, "alice", false);
    const bob = await addUser(file, "bob", false);
    const state = { stopping: false, seen: [] as string[] };
    const owners = new Map([["job-a", "alice"], ["job-b", "bob"]]);
    const jobOf: Record<string, string> = { [ALICE_INSTANCE]: "job-a", [BOB_INSTANCE]: "job-b" };
    const app = createTeamApp({
      inner: innerApi(state),
      innerToken: "inner",
      users: await TeamUsers.open(file),
      owners: {
        setJobOwner: (jobId, owner) => void owners.set(jobId, owner),
        jobOwner: (jobId) => owners.get(jobId),
        getInstance: (id) => (jobOf[id] === undefined ? undefined : { job_id: jobOf[id] as string }),
      },
      sources: { inputs: (request) => Promise.resolve({ request, root: null, missing: () => false }) },
      log: () => {},
    });
    const call = (token: string, path: string, method = "GET") =>
      app(new Request(`https://team.test${path}`, { method, headers: { authorization: `Bearer ${token}` } }));

    assert.equal((await call("sqlrs_wrong", "/v1/instances")).status, 401);
    const health = await call("sqlrs_wrong", "/v1/health");
    assert.equal(health.headers.get("x-sqlrs-authenticated"), "false");
    await health.body?.cancel();
    assert.equal((await call(alice, "/v1/config?path=x", "DELETE")).status, 403);
    assert.deepEqual(
      (await (await call(bob, "/v1/instances")).json()).map((e: { instance_id: string }) => e.instance_id),
      [BOB_INSTANCE],
    );
    assert.equal((await call(bob, `/v1/instances/${ALICE_INSTANCE}`)).status, 404);
    assert.equal((await call(bob, "/v1/instances/dev")).status, 404, "another user's name");
    state.seen.length = 0;
    assert.equal((await call(alice, "/v1/instances/dev")).status, 200);
    assert.deepEqual(state.seen.at(-1), `GET /v1/instances/${ALICE_INSTANCE}`, "a name resolves to the id");
    state.seen.length = 0;
    const batch = await call(alice, "/v1/prepare-jobs/batch", "POST");
    assert.equal(batch.status, 404, "a batch would go around each prepare's checks and ownership");
    assert.equal((await batch.json()).code, "not_found");
    assert.deepEqual(state.seen, [], "nothing reached the engine");
    state.stopping = true;
    const stopping = await call(alice, `/v1/instances/${ALICE_INSTANCE}`);
    assert.equal(stopping.status, 503);
    assert.equal(stopping.headers.get("x-sqlrs-stopping"), "true");
    await stopping.body?.cancel();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
