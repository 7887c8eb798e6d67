/**
 * Remote targets: named profiles of a team engine in the CLI config
 * (`${XDG_CONFIG_HOME:-~/.config}/sqlrs/config.yaml`), written by `sqlrs init remote NAME` and
 * selected by `--profile NAME` or `SQLRS_PROFILE`:
 *
 * ```yaml
 * profiles:
 *   team:
 *     url: https://sqlrs.example.com:7443
 *     tokenFile: /home/me/.config/sqlrs/team.token
 *     caCert: /home/me/.config/sqlrs/team-ca.pem # optional: a CA the system does not trust
 * ```
 *
 * The config names the token's file, not the token, so that it can be shared or printed safely.
 *
 * @module
 */

import { join } from "node:path";
import { invalidArgument, messageOf } from "../shared/errors.ts";
import { loadYaml } from "../shared/deps.ts";
import { type EnvLookup, sqlrsPaths } from "../shared/paths.ts";
import { readYaml } from "./config.ts";
import { type EngineAddress, EngineClient } from "./engine_client.ts";

/** One profile as the config keeps it. */
export interface Profile {
  url: string;
  tokenFile: string;
  caCert?: string | undefined;
}

/** A selected profile, ready to connect. */
export interface RemoteTarget {
  name: string;
  address: EngineAddress;
}

function configFile(env?: EnvLookup): string {
  return join(sqlrsPaths(env).configDir, "config.yaml");
}

/**
 * Checks a team engine's URL: HTTPS only (a token must not cross the network in clear).
 * @throws {SqlrsError} `invalid_argument`
 */
export function checkRemoteUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalidArgument(`Invalid --url "${url}": expected https://HOST:PORT`);
  }
  if (parsed.protocol !== "https:") {
    throw invalidArgument(`Invalid --url "${url}": a team engine is reached over https:// only`);
  }
  return parsed.origin;
}

/**
 * Writes (or replaces) a profile in the user's CLI config, keeping its other keys; returns the file.
 * @throws {SqlrsError} `invalid_argument` for a URL that is not https
 */
export async function writeProfile(name: string, profile: Profile, env?: EnvLookup): Promise<string> {
  const file = configFile(env);
  const config = await readYaml(file) ?? {};
  const profiles = (config.profiles ?? {}) as Record<string, Profile>;
  profiles[name] = { ...profile, url: checkRemoteUrl(profile.url) };
  config.profiles = profiles;
  const { stringify } = await loadYaml();
  await Deno.mkdir(join(file, ".."), { recursive: true });
  await Deno.writeTextFile(file, stringify(config), { mode: 0o600 });
  return file;
}

async function readSecret(path: string, what: string, profile: string): Promise<string> {
  try {
    return (await Deno.readTextFile(path)).trim();
  } catch (error) {
    throw invalidArgument(`Cannot read the ${what} "${path}" of profile "${profile}": ${messageOf(error)}`);
  }
}

/**
 * The profile `--profile` (else `SQLRS_PROFILE`) selects, or undefined for the local engine.
 * @throws {SqlrsError} `invalid_argument` for an unknown profile or an unreadable token or CA file
 */
export async function selectedProfile(
  flag: string | undefined,
  env: EnvLookup = (name) => Deno.env.get(name),
): Promise<RemoteTarget | undefined> {
  const name = flag ?? env("SQLRS_PROFILE");
  if (name === undefined || name === "") return undefined;
  const file = configFile(env);
  const profile = ((await readYaml(file))?.profiles as Record<string, Profile> | undefined)?.[name];
  if (profile === undefined || typeof profile.url !== "string" || typeof profile.tokenFile !== "string") {
    throw invalidArgument(`No profile "${name}" in ${file}: add it with "sqlrs init remote ${name} --url …"`);
  }
  const token = await readSecret(profile.tokenFile, "token file", name);
  const caCerts = typeof profile.caCert === "string"
    ? [await readSecret(profile.caCert, "CA certificate", name)]
    : undefined;
  return {
    name,
    address: { endpoint: checkRemoteUrl(profile.url), token, ...(caCerts === undefined ? {} : { caCerts }) },
  };
}

/**
 * A client of a team engine. It is not ours to start: a request that did not reach it is sent to it
 * again, within `timeoutMs`.
 */
export function remoteClient(target: RemoteTarget, timeoutMs: number | undefined): EngineClient {
  // A team engine reads no file of its host for a user: every prepare uploads what it reads.
  return new EngineClient(target.address, {
    timeoutMs,
    reconnect: () => Promise.resolve(target.address),
    uploadSources: true,
  });
}
