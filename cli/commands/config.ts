/**
 * `config get|set|rm|schema`: the engine's config (`<store>/config.json`) over `/v1/config`.
 *
 * @module
 */

import { Command } from "@commander-js/extra-typings";
import { invalidArgument } from "../../shared/errors.ts";
import type { CliContext } from "../context.ts";
import { out } from "../output.ts";

type Context = () => CliContext;

function print(context: CliContext, value: unknown): void {
  out(context.json ? JSON.stringify(value) : JSON.stringify(value, null, 2));
}

/** `config`. */
export function configCommand(context: Context) {
  const config = new Command("config").description("Read and change the engine's configuration");
  config.command("get")
    .description("Print a config value (all values without a path)")
    .argument("[path]", "dotted path, e.g. cache.capacity.maxBytes")
    .option("--effective", "include defaults")
    .action(async (path, flags) => {
      print(context(), await (await context().client()).configGet(path, flags.effective === true));
    });
  config.command("set")
    .description('Set a config value (JSON: numbers, true/false, null, "quoted strings")')
    .argument("<path>", "dotted path")
    .argument("<json-value>", "the value as JSON")
    .action(async (path, text) => {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        throw invalidArgument(`Value ${text} is not JSON; quote strings, e.g. '"10m"'`);
      }
      print(context(), await (await context().client()).configSet(path, value));
    });
  config.command("rm")
    .description("Remove a config value (back to its default)")
    .argument("<path>", "dotted path")
    .action(async (path) => {
      print(context(), await (await context().client()).configRemove(path));
    });
  config.command("schema")
    .description("Print the JSON Schema of the engine config")
    .action(async () => {
      print(context(), await (await context().client()).configSchema());
    });
  return config;
}
