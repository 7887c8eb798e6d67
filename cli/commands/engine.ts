/**
 * `engine stop`, and the hidden `engine serve` that runs the engine in this process (how the CLI
 * starts an engine, also from a bundle or a compiled binary).
 *
 * @module
 */

import { Command } from "@commander-js/extra-typings";
import { connectEngine } from "../../client/discovery.ts";
import type { CliContext } from "../context.ts";
import { engineCommand } from "../context.ts";
import { err, printJson } from "../output.ts";
import { EngineUnreachableError } from "../../client/engine_client.ts";
import { processAlive } from "../../shared/paths.ts";
import { SqlrsError } from "../../shared/errors.ts";

/** `engine`. */
export function engineGroupCommand(context: () => CliContext, setExit: (code: number) => void) {
  const engine = new Command("engine").description("Manage the local engine process");
  engine.command("stop")
    .description("Stop the running engine (running jobs resume when it starts again)")
    .action(async () => {
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
  engine.command("serve", { hidden: true })
    .description("Run the engine in this process")
    .allowUnknownOption()
    .allowExcessArguments()
    .argument("[args...]")
    .action(async (args) => {
      const { parseEngineArgs, runEngine } = await import("../../engine/main.ts");
      setExit(await runEngine(await parseEngineArgs(args)));
    });
  return engine;
}
