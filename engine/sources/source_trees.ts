/**
 * Source trees: a manifest (absolute client path → SHA-256) is kept under its own hash, the
 * `source_id`, and materialized as `trees/<source_id>/<client path>`, each file a hard link to its
 * blob. A prepare against a tree reads the tree as a local prepare reads the client's filesystem.
 *
 * @module
 */

import { dirname, join, normalize } from "node:path";
import { invalidArgument, notFound, SqlrsError } from "../../shared/errors.ts";
import type { SourceManifest, SourceManifestAccepted } from "../../shared/schemas.ts";
import { randomHex } from "../../shared/random.ts";
import { hashRecords } from "../prepare/fingerprint.ts";
import type { BlobStore } from "./blob_store.ts";

/** A materialized tree: its root, and the manifest it was made from. */
export interface SourceTree {
  root: string;
  files: Readonly<Record<string, string | null>>;
}

/** Manifests and their trees under `<store>/sources/`. */
export class SourceTrees {
  readonly #dir: string;
  readonly #blobs: BlobStore;

  constructor(sourcesDir: string, blobs: BlobStore) {
    this.#dir = sourcesDir;
    this.#blobs = blobs;
  }

  /** Keeps a manifest; answers its id and the hashes that have no blob yet. */
  async register(manifest: SourceManifest): Promise<SourceManifestAccepted> {
    const entries = Object.entries(manifest.files).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
    for (const [path] of entries) checkPath(path);
    const sourceId = await hashRecords(entries.map(([path, hash]) => [path, hash ?? ""]));
    await writeOnce(this.#manifestPath(sourceId), JSON.stringify(manifest.files));
    const missing = new Set<string>();
    for (const [, hash] of entries) {
      // Touched so that a sweep (source_sweep.ts) does not take a blob this manifest is about to use.
      if (hash !== null && !await this.#blobs.touch(hash)) missing.add(hash);
    }
    return { source_id: sourceId, missing: [...missing] };
  }

  /**
   * The tree of a registered manifest, made on first use.
   * @throws {SqlrsError} `not_found` for an unknown id; `source_inputs_missing` while a blob is missing
   */
  async materialize(sourceId: string): Promise<SourceTree> {
    let files: Record<string, string | null>;
    try {
      files = JSON.parse(await Deno.readTextFile(this.#manifestPath(sourceId)));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        throw notFound(`No source ${sourceId}: send its manifest again`);
      }
      throw error;
    }
    const root = join(this.#dir, "trees", sourceId);
    try {
      const now = new Date();
      await Deno.utime(root, now, now); // in use: not for a sweep to take
      return { root, files };
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    const missing = [];
    for (const [path, hash] of Object.entries(files)) {
      if (hash !== null && !await this.#blobs.has(hash)) missing.push(path);
    }
    if (missing.length > 0) {
      throw new SqlrsError("source_inputs_missing", `Upload the content of ${missing.join(", ")} first`, {
        details: { paths: missing },
      });
    }
    // Built aside and renamed into place, so that a tree is complete whenever it exists.
    const building = `${root}.${randomHex(8)}`;
    for (const [path, hash] of Object.entries(files)) {
      if (hash === null) continue;
      const target = join(building, path);
      await Deno.mkdir(dirname(target), { recursive: true, mode: 0o711 });
      try {
        await Deno.link(this.#blobs.path(hash), target);
      } catch {
        // A blob in many trees can reach the filesystem's limit of links per file: copy it then.
        await Deno.copyFile(this.#blobs.path(hash), target);
      }
    }
    await Deno.mkdir(building, { recursive: true, mode: 0o711 });
    try {
      await Deno.rename(building, root);
    } catch {
      // Another request made it first.
      await Deno.remove(building, { recursive: true });
    }
    return { root, files };
  }

  #manifestPath(sourceId: string): string {
    if (!/^[0-9a-f]{64}$/.test(sourceId)) throw invalidArgument(`Invalid source id "${sourceId}"`);
    return join(this.#dir, "manifests", `${sourceId}.json`);
  }
}

/** Refuses a path that cannot name a file in a tree: not normalized, a NUL, or too long for the OS. */
function checkPath(path: string): void {
  const why = normalize(path) !== path || path.endsWith("/")
    ? "expected a normalized absolute file path"
    : path.includes("\0")
    ? "it contains a NUL character"
    : path.length > 3000 || path.split("/").some((name) => new TextEncoder().encode(name).length > 255)
    ? "it is too long"
    : null;
  if (why !== null) throw invalidArgument(`Invalid source path "${path.slice(0, 200)}": ${why}`);
}

async function writeOnce(path: string, text: string): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const temp = `${path}.${randomHex(8)}`;
  await Deno.writeTextFile(temp, text);
  await Deno.rename(temp, path);
}
