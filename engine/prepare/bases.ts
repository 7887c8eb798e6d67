/**
 * Base data directories: one initdb per PostgreSQL build, done once under a lock in a build area and
 * published by rename, so a crash mid-initdb never leaves a base that looks complete.
 *
 * @module
 */

import type { Registry } from "../registry/registry.ts";
import type { ResolvedImage, Runtime } from "../runtime/types.ts";
import type { StateFS } from "../statefs/types.ts";
import { join } from "node:path";
import type { StoreLayout } from "../store_layout.ts";
import { KeyedMutex } from "../single_flight.ts";
import { randomHex } from "../../shared/random.ts";

/** A ready base. */
export interface Base {
  path: string;
}

async function hasPgVersion(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(`${path}/PG_VERSION`)).isFile;
  } catch {
    return false;
  }
}

/** Makes and finds bases. */
export class Bases {
  #mutex = new KeyedMutex();
  constructor(
    private readonly registry: Registry,
    private readonly layout: StoreLayout,
    private readonly statefs: StateFS,
  ) {}

  /** The base of `image`, running initdb the first time. */
  ensure(runtime: Runtime, image: ResolvedImage, onLog: (line: string) => void): Promise<Base> {
    return this.#mutex.run(image.storeDir, async () => {
      const path = this.layout.baseDir(image);
      const row = this.registry.getBase(image.storeDir);
      if (row !== undefined && await hasPgVersion(path)) return { path };
      onLog(`initdb: creating the base cluster for ${image.resolvedId}`);
      await Deno.mkdir(this.layout.engineDir(image), { recursive: true });
      await this.statefs.remove(path);
      // initdb runs as the server user, which cannot reach engines/ (bases and states must not be
      // writable through an instance): build in a job-like area, which recovery cleans after a crash.
      const area = this.layout.jobDir(`.base-${randomHex(8)}`);
      const building = join(area, "runtime");
      await Deno.mkdir(area, { recursive: true });
      const volume = await this.statefs.createEmpty(building);
      try {
        await runtime.initBase(image, volume);
        // initdb ran without syncing: the base must be on disk before its name is.
        await this.statefs.flush(building);
        await this.statefs.publish(building, path);
      } catch (error) {
        await this.statefs.remove(building);
        throw error;
      } finally {
        await Deno.remove(area, { recursive: true }).catch(() => {});
      }
      if (row === undefined) {
        this.registry.insertBase({
          store_dir: image.storeDir,
          resolved_image_id: image.resolvedId,
        });
      }
      return { path };
    });
  }
}
