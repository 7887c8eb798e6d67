/**
 * What the benchmark builds: Chinook, a size ladder of `pgbench -i` data (run inside a prepare step
 * through psql's `\!`), and a three-step psql chain whose last step changes on every run.
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const REPO: string = fileURLToPath(new URL("..", import.meta.url));
/** The Chinook script (it drops/creates database `chinook` and `\c`s into it). */
export const CHINOOK_SQL: string = join(REPO, "examples", "chinook", "Chinook_PostgreSql.sql");

/** A workload a state is prepared from. */
export interface Workload {
  /** Short name used in figure ids: `chinook`, `pgbench-s20`. */
  name: string;
  /** psql arguments of the prepare (files absolute). */
  psqlArgs: string[];
  /** The database a template clone copies. */
  database: string;
  /** The pgbench scale, for the size ladder. */
  scale?: number;
}

/** Chinook through `psql -q -f`. */
export function chinook(): Workload {
  return { name: "chinook", psqlArgs: ["-q", "-f", CHINOOK_SQL], database: "chinook" };
}

/**
 * A step that runs the real `pgbench -i -s SCALE` against the server of the step: psql exports its own
 * connection (`:HOST`, `:PORT`, `:USER`) for the shell escape, and a division by zero fails the step when
 * the row count is not what pgbench should have loaded.
 */
export async function pgbench(dir: string, pgbenchPath: string, scale: number): Promise<Workload> {
  const file = join(dir, `pgbench-s${scale}.sql`);
  await Deno.writeTextFile(
    file,
    [
      "\\setenv PGHOST :HOST",
      "\\setenv PGPORT :PORT",
      "\\setenv PGUSER :USER",
      `\\! ${pgbenchPath} -i -q -s ${scale} postgres`,
      `SELECT 1 / (count(*) = ${scale * 100000})::int AS loaded FROM pgbench_accounts;`,
      "CHECKPOINT;",
      "",
    ].join("\n"),
  );
  return { name: `pgbench-s${scale}`, psqlArgs: ["-q", "-f", file], database: "postgres", scale };
}

/** The three files of the chain; the last one is rewritten by {@link nextChainTail}. */
export interface Chain {
  files: [string, string, string];
  psqlArgs: string[];
  /** Every file in order, as psql runs them (for the by-hand baselines). */
  steps: Array<{ file: string; database: string }>;
}

/** Chinook, then a schema change, then a one-row change that differs on every run. */
export async function chain(dir: string): Promise<Chain> {
  const second = join(dir, "chain-2-schema.sql");
  const third = join(dir, "chain-3-tail.sql");
  await Deno.writeTextFile(
    second,
    [
      "\\c chinook",
      "CREATE TABLE bench_tag (id int PRIMARY KEY, tag text NOT NULL);",
      "CREATE INDEX track_name_idx ON track (name);",
      "",
    ].join("\n"),
  );
  await nextChainTail({ files: [CHINOOK_SQL, second, third] }, 0);
  return {
    files: [CHINOOK_SQL, second, third],
    psqlArgs: ["-q", "-f", CHINOOK_SQL, "-f", second, "-f", third],
    steps: [
      { file: CHINOOK_SQL, database: "postgres" },
      { file: second, database: "postgres" },
      { file: third, database: "postgres" },
    ],
  };
}

/** Rewrites the last step so its fingerprint (and only its) is new. */
export async function nextChainTail(c: Pick<Chain, "files">, n: number): Promise<void> {
  await Deno.writeTextFile(
    c.files[2],
    [
      "\\c chinook",
      `INSERT INTO bench_tag VALUES (${n}, '${crypto.randomUUID()}');`,
      "",
    ].join("\n"),
  );
}

/** A generated migration history: one file per step, as Prisma, diesel or golang-migrate keep it. */
export interface Series {
  dir: string;
  files: string[];
}

/** The SQL of migration `n`: a table per few steps, columns, indexes, a view, a foreign key, a few rows. */
function migrationSql(n: number): string {
  const table = `series_t${Math.floor(n / 5)}`;
  switch (n % 5) {
    case 0:
      return `CREATE TABLE ${table} (id bigserial PRIMARY KEY, name text NOT NULL, created_at timestamptz DEFAULT now());\n`;
    case 1:
      return `ALTER TABLE ${table} ADD COLUMN score integer NOT NULL DEFAULT ${n};\n` +
        `INSERT INTO ${table} (name, score) SELECT 'row-' || g, g FROM generate_series(1, 20) g;\n`;
    case 2:
      return `CREATE INDEX ${table}_score_idx ON ${table} (score);\n` +
        `UPDATE ${table} SET name = upper(name) WHERE score % 3 = 0;\n`;
    case 3:
      return n < 5
        ? `CREATE VIEW ${table}_top AS SELECT id, name FROM ${table} WHERE score > 10;\n`
        : `ALTER TABLE ${table} ADD COLUMN parent_id bigint REFERENCES series_t${
          Math.floor(n / 5) - 1
        } (id);\n` +
          `CREATE VIEW ${table}_top AS SELECT id, name FROM ${table} WHERE score > 10;\n`;
    default:
      return `INSERT INTO ${table} (name, score) VALUES ('migration ${n}', ${n}), ('again ${n}', ${
        n + 1
      });\n` +
        `COMMENT ON TABLE ${table} IS 'migration ${n}';\n`;
  }
}

/** Writes `count` small migrations (`0001_….sql`) of mixed DDL and small inserts into `dir`. */
export async function migrationSeries(dir: string, count: number): Promise<Series> {
  await Deno.mkdir(dir, { recursive: true, mode: 0o755 });
  const files: string[] = [];
  for (let n = 0; n < count; n++) {
    const file = join(dir, `${String(n + 1).padStart(4, "0")}_migration.sql`);
    await Deno.writeTextFile(file, migrationSql(n));
    files.push(file);
  }
  return { dir, files };
}

/** Rewrites the last migration so that only its fingerprint changes (`n` differs on every call). */
export async function editSeriesTail(series: Series, n: number): Promise<void> {
  const last = series.files[series.files.length - 1] as string;
  const original = migrationSql(series.files.length - 1);
  await Deno.writeTextFile(last, `${original}-- edit ${n}\nSELECT ${n};\n`);
}

/** Appends a new migration to the series (a new step after the cached ones). */
export async function addSeriesStep(series: Series, n: number): Promise<void> {
  const file = join(series.dir, `${String(series.files.length + 1).padStart(4, "0")}_added.sql`);
  await Deno.writeTextFile(
    file,
    `CREATE TABLE series_added_${n} (id int PRIMARY KEY);\nINSERT INTO series_added_${n} VALUES (${n});\n`,
  );
  series.files.push(file);
}
