/**
 * `init remote NAME --url https://HOST:PORT --token-file F [--ca-cert F]`: writes a profile of a team
 * engine to the user's CLI config (see `client/profiles.ts`); `--profile NAME` then selects it.
 *
 * @module
 */

import { resolve } from "node:path";
import { writeProfile } from "../../client/profiles.ts";
import { invalidArgument } from "../../shared/errors.ts";
import { out, printJson } from "../output.ts";

/** The flags of `init remote`. */
export interface InitRemoteFlags {
  url?: string | undefined;
  tokenFile?: string | undefined;
  caCert?: string | undefined;
}

/**
 * Writes the profile `name`.
 * @throws {SqlrsError} `invalid_argument` (exit 2) for a missing name, URL or token file, or a URL
 * that is not https
 */
export async function initRemote(
  name: string | undefined,
  flags: InitRemoteFlags,
  json: boolean,
): Promise<void> {
  if (name === undefined) {
    throw invalidArgument("sqlrs init remote needs a profile name: init remote NAME --url …");
  }
  if (flags.url === undefined) throw invalidArgument("sqlrs init remote needs --url https://HOST:PORT");
  if (flags.tokenFile === undefined) throw invalidArgument("sqlrs init remote needs --token-file FILE");
  const profile = {
    url: flags.url,
    tokenFile: resolve(flags.tokenFile),
    ...(flags.caCert === undefined ? {} : { caCert: resolve(flags.caCert) }),
  };
  const file = await writeProfile(name, profile);
  if (json) printJson({ profile: name, config: file, ...profile });
  else out(`profile ${name} (${profile.url}) written to ${file}; use it with --profile ${name}`);
}
