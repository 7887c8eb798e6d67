/**
 * The pieces of one container runtime that its server lifecycle and tool exec share.
 *
 * @module
 */

import type { ContainerCli } from "./container_cli.ts";
import type { Containers } from "./containers.ts";
import type { ContainerFlavor } from "./flavor.ts";
import type { ImageCatalog } from "./images.ts";

/** One engine's CLI, flavor, containers and images. */
export interface ContainerParts {
  readonly cli: ContainerCli;
  readonly flavor: ContainerFlavor;
  readonly containers: Containers;
  readonly images: ImageCatalog;
}
