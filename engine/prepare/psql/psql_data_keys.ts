/**
 * Keys what a psql input makes the client or the server read besides its text: the data files of
 * `\copy … from`, `\lo_import` and `COPY … FROM '/abs/file'`, and the files a program's command
 * line names (`… from program 'cat data.csv'`). What cannot be keyed is refused.
 *
 * @module
 */

import { isAbsolute, resolve } from "node:path";
import { invalidArgument, messageOf } from "../../../shared/errors.ts";
import { fileDigest } from "../file_digests.ts";
import { type Context, includerName, record, type Source } from "./psql_context.ts";
import { programWords, serverCopySource } from "./psql_copy.ts";

/** Why `path` cannot be read as a file ("file not found", …), or null when it can; never throws. */
export async function unreadableReason(path: string): Promise<string | null> {
  try {
    const info = await Deno.stat(path);
    return info.isFile ? null : "not a regular file";
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "file not found";
    if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
    return messageOf(error);
  }
}

async function hashDataFile(ctx: Context, path: string, what: string): Promise<string> {
  const reason = await unreadableReason(path);
  if (reason !== null) throw invalidArgument(`${what}: ${reason}`, { path });
  try {
    const digest = await fileDigest(path);
    ctx.files.set(path, digest);
    return digest;
  } catch (error) {
    throw invalidArgument(`${what}: ${messageOf(error)}`, { path });
  }
}

/** Keys the file or program a server-side `COPY … FROM` reads, or refuses what cannot be keyed. */
export async function keyServerCopy(ctx: Context, source: Source, statement: string): Promise<void> {
  const copy = serverCopySource(statement);
  const where = `COPY … FROM in ${includerName(source)}`;
  const howToKey = `load the data with \\copy … from 'file' instead, which sqlrs keys by the file's content`;
  if (copy.kind === "none") return;
  if (copy.kind === "unknown") {
    throw invalidArgument(`Cannot key ${where}: sqlrs cannot tell what it reads; ${howToKey}`);
  }
  if (copy.kind === "file") {
    if (!isAbsolute(copy.path)) {
      throw invalidArgument(
        `Cannot key ${where}: the server resolves "${copy.path}" against its data directory; ${howToKey}`,
      );
    }
    const reason = await unreadableReason(copy.path);
    if (reason !== null) {
      throw invalidArgument(
        `Cannot key ${where}: "${copy.path}": ${reason} (the engine must read it too); ${howToKey}`,
      );
    }
    await keyDataFile(ctx, source, "COPY … FROM", copy.path);
    return;
  }
  await keyProgram(
    ctx,
    source,
    "COPY … FROM PROGRAM",
    copy.command,
    (word) => isAbsolute(word) ? word : null,
  );
}

/**
 * Keys a program's output by its text and every file its command line names; `locate` maps a word to
 * the path it would name (null: not a path this program can mean). A program naming no file is refused.
 */
export async function keyProgram(
  ctx: Context,
  source: Source,
  command: string,
  program: string,
  locate: (word: string) => string | null,
): Promise<void> {
  const files: string[] = [];
  for (const word of programWords(program)) {
    const path = locate(word);
    if (path !== null && await unreadableReason(path) === null) files.push(path);
  }
  if (files.length === 0) {
    throw invalidArgument(
      `Cannot key ${command} '${program.slice(0, 200)}' in ${includerName(source)}: sqlrs keys a program ` +
        `by the files its command line names, and this one names none (e.g. 'cat /abs/data.csv' or ` +
        `'gunzip -c data.csv.gz'); or load the data with \\copy … from 'file'`,
    );
  }
  record(ctx, "program", program);
  for (const file of files) {
    record(ctx, "data", await hashDataFile(ctx, file, `Cannot read "${file}" for ${command}`));
  }
}

/** Keys the data file `file` (relative to the work directory) that `command` reads. */
export async function keyDataFile(
  ctx: Context,
  source: Source,
  command: string,
  file: string,
): Promise<void> {
  const path = resolve(ctx.workDir, file);
  const hash = await hashDataFile(
    ctx,
    path,
    `Cannot read "${file}" for ${command} from ${includerName(source)}`,
  );
  record(ctx, "data", hash);
}
