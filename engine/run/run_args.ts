/**
 * Run arguments against the connection the engine injects: host, port, user and connection
 * strings are refused; a plain database name (`psql -d NAME`, `pgbench … NAME`) selects a database
 * of the instance.
 *
 * @module
 */

import { invalidArgument } from "../../shared/errors.ts";

/** Connection options that would point the tool somewhere else. pgbench's `-d` is `--debug`. */
const CONNECTION_OPTIONS: Record<"psql" | "pgbench", readonly string[]> = {
  psql: ["-h", "--host", "-p", "--port", "-U", "--username"],
  pgbench: ["-h", "--host", "-p", "--port", "-U", "--username"],
};

/** Options (short and long) that take a value, per tool, so that values are not mistaken for positionals. */
const VALUE_OPTIONS: Record<"psql" | "pgbench", readonly string[]> = {
  psql: [
    "-c",
    "--command",
    "-f",
    "--file",
    "-F",
    "--field-separator",
    "-L",
    "--log-file",
    "-o",
    "--output",
    "-P",
    "--pset",
    "-R",
    "--record-separator",
    "-T",
    "--table-attr",
    "-v",
    "--set",
    "--variable",
  ],
  pgbench: [
    "-b",
    "--builtin",
    "-c",
    "--client",
    "-D",
    "--define",
    "-f",
    "--file",
    "-F",
    "--fillfactor",
    "-I",
    "--init-steps",
    "-j",
    "--jobs",
    "-L",
    "--latency-limit",
    "-M",
    "--protocol",
    "-P",
    "--progress",
    "-R",
    "--rate",
    "-s",
    "--scale",
    "-t",
    "--transactions",
    "-T",
    "--time",
    "--index-tablespace",
    "--tablespace",
    "--partition-method",
    "--partitions",
    "--log-prefix",
    "--sampling-rate",
    "--aggregate-interval",
    "--random-seed",
    "--max-tries",
    "--show-script",
  ],
};

function optionName(arg: string): string {
  return arg.startsWith("--") ? arg.split("=")[0] as string : arg.slice(0, 2);
}

function plainDatabase(kind: string, value: string): string {
  if (/[=/:@\s]/.test(value) || value === "") {
    throw invalidArgument(
      `"${value}" is a connection string; ${kind} is connected to the instance for you, pass only a database name`,
    );
  }
  return value;
}

/** Run args with the database selection taken out. */
export interface RunArgs {
  args: string[];
  database: string | undefined;
}

/**
 * Checks `args` and takes out the database selection.
 * @throws {SqlrsError} `invalid_argument` naming a connection option or connection string
 */
export function parseRunArgs(kind: "psql" | "pgbench", args: readonly string[]): RunArgs {
  const kept: string[] = [];
  let database: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg.startsWith("-") && arg !== "-" && arg !== "--") {
      const name = optionName(arg);
      if (CONNECTION_OPTIONS[kind].includes(name)) {
        throw invalidArgument(
          `Connection option "${arg}" conflicts with the instance's connection; sqlrs connects ${kind} for you`,
        );
      }
      const glued = arg.startsWith("--") ? arg.includes("=") : arg.length > 2;
      if (kind === "psql" && (name === "-d" || name === "--dbname")) {
        const value = glued
          ? (arg.startsWith("--") ? arg.slice(arg.indexOf("=") + 1) : arg.slice(2))
          : args[++i] ?? "";
        database = plainDatabase(kind, value);
        continue;
      }
      kept.push(arg);
      if (VALUE_OPTIONS[kind].includes(name) && !glued && i + 1 < args.length) kept.push(args[++i] as string);
      continue;
    }
    if (arg === "--") continue;
    if (database !== undefined) {
      throw invalidArgument(`Unexpected argument "${arg}": the database is already "${database}"`);
    }
    database = plainDatabase(kind, arg);
  }
  return { args: kept, database };
}
