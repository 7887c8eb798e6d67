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

function refuseConnectionOption(kind: "psql" | "pgbench", name: string, arg: string): void {
  if (CONNECTION_OPTIONS[kind].includes(name)) {
    throw invalidArgument(
      `Connection option "${arg}" conflicts with the instance's connection; sqlrs connects ${kind} for you`,
    );
  }
}

/**
 * Checks `args` and takes out the database selection. Short options bundle as with getopt: in `-Atc
 * SQL` or `-Atd NAME`, the letters are flags up to the first one that takes a value, which is the rest
 * of the argument or else the next one.
 * @throws {SqlrsError} `invalid_argument` naming a connection option or connection string
 */
export function parseRunArgs(kind: "psql" | "pgbench", args: readonly string[]): RunArgs {
  const kept: string[] = [];
  let database: string | undefined;
  const selectsDatabase = (name: string) => kind === "psql" && (name === "-d" || name === "--dbname");
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg.startsWith("--") && arg !== "--") {
      const name = arg.split("=")[0] as string;
      refuseConnectionOption(kind, name, arg);
      const glued = arg.includes("=");
      if (selectsDatabase(name)) {
        database = plainDatabase(kind, glued ? arg.slice(arg.indexOf("=") + 1) : args[++i] ?? "");
        continue;
      }
      kept.push(arg);
      if (VALUE_OPTIONS[kind].includes(name) && !glued && i + 1 < args.length) kept.push(args[++i] as string);
      continue;
    }
    if (arg.startsWith("-") && arg !== "-" && arg !== "--") {
      let flags = arg; // what stays of the bundle
      for (let j = 1; j < arg.length; j++) {
        const name = `-${arg[j]}`;
        refuseConnectionOption(kind, name, arg);
        if (!selectsDatabase(name) && !VALUE_OPTIONS[kind].includes(name)) continue;
        const rest = arg.slice(j + 1);
        const value = rest !== "" ? rest : i + 1 < args.length ? args[++i] as string : undefined;
        if (selectsDatabase(name)) {
          database = plainDatabase(kind, value ?? "");
          flags = arg.slice(0, j);
        } else if (rest === "" && value !== undefined) {
          kept.push(arg, value);
          flags = "";
        }
        break;
      }
      if (flags.length > 1) kept.push(flags);
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
