/**
 * The store's directory layout (DESIGN.md section 4):
 * `engines/<engine>/<version>/{base,states/<id>}`, `jobs/<job>/{runtime,run}`, `instances/<id>/{data,run}`.
 *
 * @module
 */

import { join } from "node:path";
import type { ResolvedImage } from "./runtime/types.ts";

/** Paths under one store root. */
export class StoreLayout {
  readonly root: string;
  constructor(root: string) {
    this.root = root;
  }
  get dbFile(): string {
    return join(this.root, "state.db");
  }
  get configFile(): string {
    return join(this.root, "config.json");
  }
  engineDir(image: Pick<ResolvedImage, "storeDir">): string {
    return join(this.root, "engines", image.storeDir);
  }
  baseDir(image: Pick<ResolvedImage, "storeDir">): string {
    return join(this.engineDir(image), "base");
  }
  statesDir(storeDir: string): string {
    return join(this.root, "engines", storeDir, "states");
  }
  stateDir(storeDir: string, stateId: string): string {
    return join(this.statesDir(storeDir), stateId);
  }
  jobDir(jobId: string): string {
    return join(this.root, "jobs", jobId);
  }
  instanceDir(instanceId: string): string {
    return join(this.root, "instances", instanceId);
  }
}
