/**
 * The `sqlrs` command line: a thin client of the engine.
 *
 * `sqlrs [--output human|json] [--timeout 30s] [-v] [--endpoint URL | --profile NAME] <command> [flags]
 * [-- tool args]`
 *
 * @module
 */

import { Command, CommanderError } from "@commander-js/extra-typings";
import { messageOf } from "../shared/errors.ts";
import { VERSION } from "../shared/version.ts";
import { CliContext } from "./context.ts";
import { EXIT, exitCodeFor, ExitError } from "./exit_codes.ts";
import { err, printError } from "./output.ts";
import { splitComposite } from "./composite.ts";
import { statusCommand } from "./commands/status.ts";
import { configCommand } from "./commands/config.ts";
import { engineGroupCommand } from "./commands/engine.ts";
import { prepareKindCommands, type RunStage, watchCommand } from "./commands/prepare.ts";
import { planRecipeCommand, prepareRecipeCommand } from "./commands/recipe.ts";
import { runPgbenchCommand, runPsqlCommand, runTool } from "./commands/run.ts";
import { lsCommand } from "./commands/ls.ts";
import { rmCommand } from "./commands/rm.ts";
import { resetCommand } from "./commands/reset.ts";
import { pruneCommand } from "./commands/prune.ts";
import { cacheCommand } from "./commands/cache.ts";
import { initCommand } from "./commands/init.ts";
import { completionsCommand } from "./commands/completions.ts";
import { completeValuesCommand } from "./commands/complete_values.ts";
import { SqlrsError } from "../shared/errors.ts";
import { PREPARE_COMMANDS } from "../shared/prepare_kinds.ts";

interface CliState {
  exitCode: number;
  context: CliContext | undefined;
}

function buildProgram(state: CliState, runStage?: RunStage) {
  const program = new Command("sqlrs")
    .description("Reproducible PostgreSQL databases in milliseconds")
    .version(VERSION, "--version")
    .option("--output <format>", "human or json", "human")
    .option("--timeout <duration>", "request timeout", "30s")
    .option("-v, --verbose", "log every event on stderr")
    .option("--endpoint <url>", "engine endpoint (unix:///path.sock, http://127.0.0.1:PORT or auto)")
    .option("--profile <name>", "a team engine's profile (sqlrs init remote; default SQLRS_PROFILE)")
    .enablePositionalOptions()
    .exitOverride();
  const context = () => {
    state.context ??= new CliContext(program.opts());
    return state.context;
  };
  const setExit = (code: number) => (state.exitCode = code);
  program.addCommand(initCommand(context));
  program.addCommand(statusCommand(context));
  program.addCommand(configCommand(context));
  program.addCommand(engineGroupCommand(context, setExit));
  for (const command of prepareKindCommands(context, runStage)) program.addCommand(command);
  program.addCommand(prepareRecipeCommand(context, runStage));
  program.addCommand(planRecipeCommand(context));
  program.addCommand(watchCommand(context));
  program.addCommand(runPsqlCommand(context, setExit));
  program.addCommand(runPgbenchCommand(context, setExit));
  program.addCommand(lsCommand(context));
  program.addCommand(rmCommand(context, setExit));
  program.addCommand(resetCommand(context));
  program.addCommand(pruneCommand(context));
  program.addCommand(cacheCommand(context));
  program.addCommand(completionsCommand());
  program.addCommand(completeValuesCommand(), { hidden: true });
  overrideExitAndOutput(program);
  return { program, context };
}

/**
 * Commander settings every command needs (`addCommand` does not pass them down): throw instead of
 * exiting, and leave usage errors to main(), which reports them like every other error.
 */
function overrideExitAndOutput(command: Command<unknown[], Record<string, unknown>>): void {
  command.exitOverride().configureOutput({ writeErr: (text) => err(text.trimEnd()), outputError: () => {} });
  for (const sub of command.commands) {
    overrideExitAndOutput(sub as Command<unknown[], Record<string, unknown>>);
  }
}

/** The index where the command starts: global flags (and their values) come first. */
function commandIndex(argv: readonly string[]): number {
  let i = 0;
  while (i < argv.length && (argv[i] as string).startsWith("-")) {
    i += ["--output", "--timeout", "--endpoint", "--profile"].includes(argv[i] as string) ? 2 : 1;
  }
  return i;
}

/** Whether the global flags (before the command) ask for `--output json`. */
function wantsJson(globals: readonly string[]): boolean {
  return globals.some((arg, i) =>
    arg === "--output=json" || (arg === "--output" && globals[i + 1] === "json")
  );
}

/** The value of `--flag VALUE` or `--flag=VALUE` among `flags`. */
function flagValue(flags: readonly string[], flag: string): string | undefined {
  for (const [i, arg] of flags.entries()) {
    if (arg === flag) return flags[i + 1];
    if (arg.startsWith(`${flag}=`)) return arg.slice(flag.length + 1);
  }
  return undefined;
}

/**
 * The run stage of `prepare:psql … run:psql|run:pgbench …`: runs against the freshly prepared
 * instance, then deletes it whatever happened.
 */
function compositeRunStage(run: readonly string[], state: CliState): RunStage {
  const kind = run[0] === "run:pgbench" ? "pgbench" : run[0] === "run:psql" ? "psql" : undefined;
  if (kind === undefined) {
    throw new SqlrsError("invalid_argument", `Unknown run stage "${run[0]}": use run:psql or run:pgbench`);
  }
  const runArgs = run.slice(1);
  const dashDash = runArgs.indexOf("--");
  const runFlags = dashDash === -1 ? runArgs : runArgs.slice(0, dashDash);
  if (runFlags.some((arg) => arg === "--instance" || arg.startsWith("--instance="))) {
    throw new SqlrsError(
      "invalid_argument",
      "--instance cannot be used in a composite run: it runs against the freshly prepared instance",
    );
  }
  const toolArgs = dashDash === -1 ? runArgs : runArgs.slice(dashDash + 1);
  const ownTimeout = flagValue(runFlags, "--statement-timeout");
  return async (status, inherited) => {
    const instanceId = status.result?.instance_id;
    const context = state.context;
    if (instanceId === undefined || context === undefined) {
      throw new SqlrsError("internal_error", "prepare finished without an instance");
    }
    try {
      const statementTimeout = ownTimeout ?? inherited.statementTimeout;
      state.exitCode = await runTool(context, kind, instanceId, toolArgs, statementTimeout);
    } finally {
      await (await context.client()).delete("instances", instanceId, { force: true });
    }
  };
}

/** Runs the CLI and returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const state: { exitCode: number; context: CliContext | undefined } = { exitCode: 0, context: undefined };
  const at = commandIndex(argv);
  const json = wantsJson(argv.slice(0, at));
  try {
    const { prepare, run } = splitComposite(argv.slice(at));
    if (run !== undefined && ![...PREPARE_COMMANDS, "prepare"].includes(prepare[0] ?? "")) {
      throw new SqlrsError(
        "invalid_argument",
        `A run stage can only follow ${PREPARE_COMMANDS.join(", ")} or prepare <recipe>`,
      );
    }
    const runStage = run === undefined ? undefined : compositeRunStage(run, state);
    const { program } = buildProgram(state, runStage);
    if (argv.length === 0) {
      program.outputHelp();
      return EXIT.usage;
    }
    await program.parseAsync([...argv.slice(0, at), ...prepare], { from: "user" });
    return state.exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      if (error.exitCode === 0) return EXIT.ok;
      // A command group run without a subcommand printed its help already.
      if (error.code === "commander.help") return EXIT.usage;
      const hint = error.code === "commander.unknownOption" && /^(prepare|plan)(:|$)/.test(argv[at] ?? "")
        ? `; tool arguments go after "--", as in: sqlrs ${argv[at]} [flags] -- -f schema.sql`
        : "";
      printError(json, "invalid_argument", `${error.message.replace(/^error: /, "")}${hint}`);
      return EXIT.usage;
    }
    if (error instanceof ExitError) {
      printError(json, error.code, error.message);
      return error.exitCode;
    }
    printError(json, error instanceof SqlrsError ? error.code : "internal_error", messageOf(error));
    return exitCodeFor(error);
  } finally {
    await state.context?.close();
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
