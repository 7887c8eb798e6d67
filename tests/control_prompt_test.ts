/**
 * Ctrl+C while following a job on a terminal (seed 001, section 5.1), driven through a real
 * pseudo-terminal (util-linux `script`), on real PostgreSQL: the control prompt's `detach` leaves
 * the job running to success, `stop` cancels it only after confirmation, `continue` keeps following;
 * in the composite form, detach skips the run. Off a terminal, SIGINT cancels at once.
 */

import assert from "node:assert/strict";
import { CLI, Sandbox } from "./_sandbox.ts";
import { hasScript, TerminalCli } from "./_terminal.ts";
import { need, testNeeding } from "./_needs.ts";

const decoder = new TextDecoder();

/** Starts a terminal CLI following a job that sleeps `seconds`, and presses Ctrl+C while it runs. */
async function interrupted(
  sandbox: Sandbox,
  args: readonly string[],
): Promise<{ cli: TerminalCli; prompt: number }> {
  const cli = new TerminalCli(sandbox, args);
  await cli.waitFor(/\[1\/1\] -c 'select pg_sleep\(\d+\)' {2}\S*\d\.\ds/);
  await cli.type("\x03");
  return { cli, prompt: await cli.waitFor(/stop, detach or continue\? \[continue\] /) };
}

function jobIdShown(screen: string): string {
  const match = /job ([0-9a-f]{32}) is still running/.exec(screen);
  assert.ok(match !== null, screen);
  return match[1] as string;
}

testNeeding(need(hasScript, "util-linux script"), {
  name: "Ctrl+C then detach on a terminal: exits 5, and the job runs on to success (watch gets its DSN)",
  fn: async () => {
    await using sandbox = await Sandbox.create();
    const { cli } = await interrupted(sandbox, ["prepare:psql", "--", "-c", "select pg_sleep(4)"]);
    await cli.type("detach\n");
    assert.equal(await cli.exit(), 5, cli.screen);
    const jobId = jobIdShown(cli.screen);
    assert.match(
      cli.screen,
      new RegExp(`detached: job ${jobId} keeps running; follow it with "sqlrs watch ${jobId}"`),
    );
    const watched = await sandbox.cli(["watch", jobId]);
    assert.equal(watched.code, 0, watched.stderr);
    assert.match(watched.stdout, /^DSN=postgres:\/\//);
  },
});

testNeeding(need(hasScript, "util-linux script"), {
  name: "Ctrl+C then stop on a terminal: 'n' keeps following, 'y' cancels the job (exit 1, cancelled)",
  fn: async () => {
    await using sandbox = await Sandbox.create();
    const { cli, prompt } = await interrupted(sandbox, ["prepare:psql", "--", "-c", "select pg_sleep(30)"]);
    await cli.type("stop\n");
    const confirm = await cli.waitFor(/Cancel job [0-9a-f]{32}\? \[y\/N\] /, prompt);
    await cli.type("n\n");
    const jobId = jobIdShown(cli.screen);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const running = JSON.parse((await sandbox.cliOk(["--output", "json", "ls", "--jobs"])).stdout).jobs;
    assert.equal(running.find((job: { job_id: string }) => job.job_id === jobId)?.status, "running");
    await cli.type("\x03");
    const second = await cli.waitFor(/stop, detach or continue\? \[continue\] /, confirm);
    await cli.type("stop\n");
    await cli.waitFor(/\[y\/N\] /, second);
    await cli.type("y\n");
    assert.equal(await cli.exit(), 1, cli.screen);
    assert.match(cli.screen, new RegExp(`Job ${jobId} was cancelled`));
    assert.doesNotMatch(cli.screen, /DSN=/);
    const jobs = JSON.parse((await sandbox.cliOk(["--output", "json", "ls", "--jobs"])).stdout).jobs;
    assert.equal(jobs.find((job: { job_id: string }) => job.job_id === jobId)?.status, "cancelled");
  },
});

testNeeding(need(hasScript, "util-linux script"), {
  name: "Ctrl+C then continue on a terminal keeps following: the DSN is printed, exit 0",
  fn: async () => {
    await using sandbox = await Sandbox.create();
    const { cli } = await interrupted(sandbox, ["prepare:psql", "--", "-c", "select pg_sleep(4)"]);
    await cli.type("continue\n");
    assert.equal(await cli.exit(), 0, cli.screen);
    assert.match(cli.screen, /DSN=postgres:\/\//);
  },
});

testNeeding(need(hasScript, "util-linux script"), {
  name: "Ctrl+C then detach in prepare…run skips the run and exits 5; the job still succeeds",
  fn: async () => {
    await using sandbox = await Sandbox.create();
    const { cli } = await interrupted(sandbox, [
      "prepare:psql",
      "--",
      "-c",
      "select pg_sleep(4)",
      "run:psql",
      "--",
      "-A",
      "-t",
      "-c",
      "select 'the run ran'",
    ]);
    await cli.type("d\n");
    assert.equal(await cli.exit(), 5, cli.screen);
    assert.doesNotMatch(cli.screen, /the run ran/);
    assert.match(cli.screen, /the run stage was skipped/);
    const watched = await sandbox.cli(["watch", jobIdShown(cli.screen)]);
    assert.equal(watched.code, 0, watched.stderr);
  },
});

Deno.test("SIGINT off a terminal cancels the job at once (exit 1, cancelled)", async () => {
  await using sandbox = await Sandbox.create();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", CLI, "-v", "prepare:psql", "--", "-c", "select pg_sleep(30)"],
    cwd: sandbox.dir,
    env: sandbox.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  const reading = (async () => {
    for await (const chunk of child.stderr) stderr += decoder.decode(chunk, { stream: true });
  })();
  const stdout = new Response(child.stdout).text();
  while (!/execute-0 running/.test(stderr)) await new Promise((resolve) => setTimeout(resolve, 50));
  child.kill("SIGINT");
  const { code } = await child.status;
  await reading;
  assert.equal(code, 1, stderr);
  assert.match(stderr, /was cancelled/);
  assert.equal(await stdout, "");
});
