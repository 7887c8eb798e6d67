/**
 * `engine stop`; `engine serve`, which runs the engine in this process (how the CLI starts an engine,
 * also from a bundle or a compiled binary, and how a team engine is served); `engine user add`, which
 * adds a user to a team engine's users file.
 *
 * @module
 */

import { Command } from "@commander-js/extra-typings";
import { connectEngine } from "../../client/discovery.ts";
import type { CliContext } from "../context.ts";
import { engineCommand } from "../context.ts";
import { err, out, printJson } from "../output.ts";
import { EngineUnreachableError } from "../../client/engine_client.ts";
import { processAlive } from "../../shared/paths.ts";
import { SqlrsError } from "../../shared/errors.ts";

/** `engine`. */
export function engineGroupCommand(context: () => CliContext, setExit: (code: number) => void) {
  const engine = new Command("engine").description("Stop the local engine, serve a team, add a team's users");
  engine.command("stop")
    .description("Stop the running engine (running jobs resume when it starts again)")
    .action(async () => {
      if (await context().remote() !== undefined) {
        // A team engine: only an admin may stop it (others get 403, exit 4); its host restarts it.
        await (await context().client()).shutdown();
        if (context().json) printJson({ stopped: true });
        else err("team engine stopping");
        return;
      }
      let client;
      try {
        client = await connectEngine({ engineCommand: engineCommand(), autostart: false });
      } catch (error) {
        if (!(error instanceof EngineUnreachableError)) throw error;
        if (context().json) printJson({ stopped: false, running: false });
        else err("engine is not running");
        return;
      }
      const { pid } = await client.health();
      await client.shutdown();
      client[Symbol.dispose]();
      // Return once the engine is gone, so that the store is free for whatever comes next.
      const deadline = Date.now() + 30_000;
      while (processAlive(pid) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      if (processAlive(pid)) {
        throw new SqlrsError("internal_error", `The engine (pid ${pid}) did not stop within 30 s`);
      }
      if (context().json) printJson({ stopped: true });
      else err("engine stopped");
    });
  engine.command("serve")
    .description(
      "Run the engine in this process; a team engine: --listen HOST:PORT --tls-cert F --tls-key F --users F",
    )
    .allowUnknownOption()
    .allowExcessArguments()
    .argument("[args...]")
    .action(async (args) => {
      const { parseEngineArgs, runEngine } = await import("../../engine/main.ts");
      setExit(await runEngine(await parseEngineArgs(args)));
    });
  engine.command("user")
    .description("Manage the users of a team engine")
    .command("add")
    .description("Add a user to a users file and print its token (shown only this once)")
    .argument("<name>", "the user's name")
    .requiredOption("--users <file>", "the users file of engine serve --users")
    .option("--admin", "the user may see everything and change the engine's config")
    .action(async (name, flags) => {
      const { addUser } = await import("../../engine/team/users.ts");
      const token = await addUser(flags.users, name, flags.admin === true);
      if (context().json) printJson({ name, admin: flags.admin === true, token });
      else out(token);
    });
  return engine;
}
