/**
 * Image resolution for the container runtimes: a reference becomes an immutable identity (pulled when
 * missing), and each image is probed once for its postgres user, server major and psql.
 *
 * @module
 */

import { messageOf, SqlrsError } from "../../../shared/errors.ts";
import { lastLines } from "../_support.ts";
import type { ResolvedImage } from "../types.ts";
import type { ContainerCli } from "./container_cli.ts";
import type { ContainerFlavor } from "./flavor.ts";
import { containerStoreDir, imageIdentity, parseImageProbe, PROBE_SCRIPT } from "./image_identity.ts";

/** What sqlrs knows of a local image, probed once per image id. */
export interface ImageInfo {
  /** The reference containers run (`resolvedId`). */
  ref: string;
  uid: number;
  gid: number;
  major: number;
  postgres: string;
  psql: string;
  /** Volumes the image declares, covered by tmpfs mounts. */
  volumes: string[];
}

interface InspectedImage {
  Id: string;
  RepoDigests?: string[] | null;
  Config?: { Volumes?: Record<string, unknown> | null } | null;
}

/** The images of one container engine, with their probed facts cached by identity. */
export class ImageCatalog {
  readonly #cli: ContainerCli;
  readonly #flavor: ContainerFlavor;
  readonly #probed = new Map<string, Promise<ImageInfo>>();

  constructor(cli: ContainerCli, flavor: ContainerFlavor) {
    this.#cli = cli;
    this.#flavor = flavor;
  }

  /**
   * Resolves an image reference, pulling it when the engine lacks it.
   * @throws {SqlrsError} `invalid_argument` for no image, one that cannot be pulled, or one that is no PostgreSQL image
   */
  async resolve(imageId: string | undefined): Promise<ResolvedImage> {
    const engine = this.#flavor.engine;
    if (imageId === undefined) {
      throw new SqlrsError("invalid_argument", `The ${engine} runtime needs an image, such as postgres:17`);
    }
    let inspected = await this.#inspect(imageId);
    if (inspected === undefined) {
      const pullRef = this.#flavor.pullRef(imageId);
      const pulled = await this.#cli.run(["pull", "-q", pullRef]);
      if (pulled.code !== 0) {
        throw new SqlrsError(
          "invalid_argument",
          `Image "${imageId}" is not in ${engine} and cannot be pulled: ${lastLines(pulled.stderr, 3)}\n` +
            `Build a local PostgreSQL image with scripts/build-pg-image.sh --runtime ${engine} ${imageId}, ` +
            `or pull it first (${engine} pull ${imageId})`,
          { details: { image: imageId } },
        );
      }
      inspected = await this.#inspect(pullRef);
      if (inspected === undefined) {
        throw new SqlrsError("internal_error", `${engine} pulled ${pullRef} but cannot inspect it`);
      }
    }
    const resolvedId = imageIdentity(imageId, inspected.Id, inspected.RepoDigests ?? []);
    const probed = await this.#cached(resolvedId, () => Promise.resolve(inspected));
    return {
      runtime: engine,
      imageId,
      resolvedId,
      storeDir: containerStoreDir(resolvedId, probed.major),
      major: probed.major,
      toolIdentity: probed.psql,
    };
  }

  /** The probed facts of a resolved image (probed again after an engine restart). */
  info(image: ResolvedImage): Promise<ImageInfo> {
    return this.#cached(image.resolvedId, async () => {
      const inspected = await this.#inspect(image.resolvedId);
      if (inspected === undefined) {
        const engine = this.#flavor.engine;
        throw new SqlrsError(
          "unavailable",
          `Image ${image.imageId} (${image.resolvedId}) is no longer in ${engine}: pull or build it again ` +
            `(scripts/build-pg-image.sh --runtime ${engine} ${image.imageId})`,
        );
      }
      return inspected;
    });
  }

  #cached(resolvedId: string, inspect: () => Promise<InspectedImage>): Promise<ImageInfo> {
    let info = this.#probed.get(resolvedId);
    if (info === undefined) {
      info = inspect().then((inspected) => this.#probe(resolvedId, inspected));
      this.#probed.set(resolvedId, info);
      info.catch(() => this.#probed.delete(resolvedId));
    }
    return info;
  }

  async #inspect(ref: string): Promise<InspectedImage | undefined> {
    const result = await this.#cli.run(["image", "inspect", ref]);
    if (result.code !== 0) return undefined;
    return (JSON.parse(result.stdout) as InspectedImage[])[0];
  }

  async #probe(ref: string, inspected: InspectedImage): Promise<ImageInfo> {
    const result = await this.#cli.run([
      "run",
      "--rm",
      "--pull",
      "never",
      "--network",
      "none",
      ...this.#flavor.runOptions,
      "--entrypoint",
      "sh",
      ref,
      "-c",
      PROBE_SCRIPT,
    ]);
    try {
      if (result.code !== 0) throw new Error(lastLines(result.stderr || result.stdout, 5));
      const probe = parseImageProbe(result.stdout);
      return { ref, ...probe, volumes: Object.keys(inspected.Config?.Volumes ?? {}) };
    } catch (error) {
      throw new SqlrsError(
        "invalid_argument",
        `Image ${ref} cannot serve as a PostgreSQL image: ${messageOf(error)}`,
        { details: { image: ref } },
      );
    }
  }
}
