// CLI flags laid over a config file (§1.1): a flag that is given replaces the file's value,
// with a warning when the file had one; booleans only turn things on; any of --token,
// --join-method or --ca-pin rebuilds `onboarding` from flags alone, so that a file's and a
// command line's join settings are never half merged. Paths stay as given (relative ones too):
// `tbot configure` prints them so, and `tbot start` resolves them (resolve-paths.ts).

import { isCaPin } from "../../crypto/pin.ts";
import { parseDuration } from "../../util/duration.ts";
import { UserError } from "../../util/errors.ts";
import { normalizeAddress } from "../../util/host-port.ts";
import { defaultIdentityService } from "../services/identity/config.ts";
import type { DecodedConfig } from "./decode.ts";
import { defaultAuthPort, defaultConfig, defaultProxyPort, directoryDestination } from "./defaults.ts";
import { parseDestinationUri } from "./destination-uri.ts";
import { joinMethodProblem } from "./join-methods.ts";
import { parseJoinUri } from "./join-uri.ts";
import { ConfigPlaces } from "./places.ts";
import type { BotConfig, ServiceConfig } from "./types.ts";

/** A value and the flag or environment variable it came from, for messages. */
export interface FromCli<T> {
  value: T;
  from: string;
}

export interface StartOverrides {
  debug?: boolean;
  insecure?: boolean;
  fips?: boolean;
  oneshot?: boolean;
  proxyServer?: FromCli<string>;
  authServer?: FromCli<string>;
  joinUri?: FromCli<string>;
  token?: FromCli<string>;
  joinMethod?: FromCli<string>;
  caPins?: FromCli<string[]>;
  credentialTtl?: FromCli<string>;
  renewalInterval?: FromCli<string>;
  diagAddr?: FromCli<string>;
  /** --data-dir: a directory path. */
  dataDir?: FromCli<string>;
  /** --storage: a destination URI. */
  storage?: FromCli<string>;
  /** Legacy --destination-dir: replaces every service with one identity output. */
  destinationDir?: FromCli<string>;
  registrationSecret?: FromCli<string>;
  registrationSecretPath?: FromCli<string>;
  staticKeyPath?: FromCli<string>;
  /** TBOT_REGISTRATION_SECRET: used only when nothing else gives a secret. */
  registrationSecretFallback?: FromCli<string>;
  /** The one service of `tbot start <mode>`, built from that mode's flags. */
  service?: ServiceConfig;
}

export function cliError(from: string, message: string): UserError {
  return new UserError(`${from}: ${message}`);
}

/**
 * Lays `o` over `base` (a decoded file, or nothing). Returns the merged config, the warnings
 * of the overlay, and the places of the file values that survived.
 */
export function applyOverrides(base: DecodedConfig | undefined, o: StartOverrides): DecodedConfig {
  const c: BotConfig = base ? structuredClone(base.config) : defaultConfig();
  const places = base?.places ?? new ConfigPlaces();
  const warnings: string[] = [];
  const file = places.file;
  const overriding = (yamlKey: string) => {
    if (file !== undefined && places.hasUnder(yamlKey))
      warnings.push(`CLI parameters are overriding ${yamlKey} configured in ${file}`);
    places.forget(yamlKey);
  };
  /**
   * A flag overrides the file (with a warning); an environment variable only fills a gap: the
   * server address (proxy_server or auth_server, which exclude each other) when the file has none.
   */
  const fileHasServer =
    file !== undefined && (places.hasUnder("proxy_server") || places.hasUnder("auth_server"));
  const applies = (v: FromCli<string> | undefined): v is FromCli<string> =>
    !!v && (v.from.startsWith("-") || !fileHasServer);

  if (o.debug) c.debug = true;
  if (o.insecure) c.insecure = true;
  if (o.fips) c.fips = true;
  if (o.oneshot) c.oneshot = true;

  if (applies(o.proxyServer)) {
    overriding("proxy_server");
    c.proxyServer = flagAddress(o.proxyServer, defaultProxyPort);
  }
  if (applies(o.authServer)) {
    overriding("auth_server");
    c.authServer = flagAddress(o.authServer, defaultAuthPort);
  }
  if (o.diagAddr) {
    overriding("diag_addr");
    c.diagAddr = flagAddress(o.diagAddr, undefined);
  }
  if (o.joinUri) {
    const parsed = parseJoinUri(o.joinUri.value);
    if (typeof parsed === "string") throw cliError(o.joinUri.from, parsed);
    overriding("join_uri");
    c.joinUri = o.joinUri.value.trim();
  }

  overlayOnboarding(c, o, places, warnings);

  if (o.credentialTtl) {
    overriding("credential_ttl");
    c.credentialTtlMs = flagDuration(o.credentialTtl);
  }
  if (o.renewalInterval) {
    overriding("renewal_interval");
    c.renewalIntervalMs = flagDuration(o.renewalInterval);
  }

  if (o.dataDir && o.storage)
    throw new UserError(`${o.dataDir.from} and ${o.storage.from} both set the storage; use only one`);
  if (o.dataDir || o.storage) {
    overriding("storage");
    if (o.dataDir) c.storage = directoryDestination(nonEmpty(o.dataDir));
    else {
      const d = parseDestinationUri(o.storage!.value);
      if (typeof d === "string") throw cliError(o.storage!.from, d);
      c.storage = d;
    }
  }

  if (o.destinationDir) {
    overriding("services");
    c.services = [defaultIdentityService(directoryDestination(nonEmpty(o.destinationDir)))];
  }
  if (o.service) c.services.push(o.service);

  return { config: c, warnings: [...(base?.warnings ?? []), ...warnings], places };
}

function overlayOnboarding(c: BotConfig, o: StartOverrides, places: ConfigPlaces, warnings: string[]): void {
  if (o.token || o.joinMethod || o.caPins) {
    if (places.file !== undefined && places.hasUnder("onboarding"))
      warnings.push(`CLI parameters are overriding onboarding config from ${places.file}`);
    places.forget("onboarding");
    c.onboarding = { joinMethod: "", caPins: [] };
    if (o.joinMethod) {
      const m = o.joinMethod.value.trim();
      const problem = joinMethodProblem(m);
      if (problem) throw cliError(o.joinMethod.from, problem);
      c.onboarding.joinMethod = m;
    }
    if (o.token) c.onboarding.token = nonEmpty(o.token);
    if (o.caPins) {
      c.onboarding.caPins = o.caPins.value.map((p) => p.trim());
      const bad = c.onboarding.caPins.find((p) => !isCaPin(p.toLowerCase()));
      if (bad !== undefined)
        throw cliError(
          o.caPins.from,
          `"${bad}" is not a CA pin; expected sha256:<64 hex digits>, as "tctl status" prints it`,
        );
    }
  }

  const bk = { ...c.onboarding.boundKeypair };
  let touched = false;
  const note = (yamlKey: string) => {
    const key = `onboarding.bound_keypair.${yamlKey}`;
    if (places.file !== undefined && places.has(key))
      warnings.push(`CLI parameters are overriding ${key} configured in ${places.file}`);
    places.forget(key);
  };
  // A secret on the command line replaces the file's secret in either of its two forms;
  // both secret flags together are left for validation to reject.
  if (o.registrationSecret || o.registrationSecretPath) {
    note("registration_secret");
    note("registration_secret_path");
    delete bk.registrationSecret;
    delete bk.registrationSecretPath;
    if (o.registrationSecret) bk.registrationSecret = nonEmpty(o.registrationSecret);
    if (o.registrationSecretPath) bk.registrationSecretPath = nonEmpty(o.registrationSecretPath);
    touched = true;
  }
  if (o.staticKeyPath) {
    note("static_private_key_path");
    bk.staticPrivateKeyPath = nonEmpty(o.staticKeyPath);
    touched = true;
  }
  const fallback = o.registrationSecretFallback;
  if (
    fallback &&
    fallback.value.trim() !== "" &&
    c.onboarding.joinMethod === "bound_keypair" &&
    bk.registrationSecret === undefined &&
    bk.registrationSecretPath === undefined
  ) {
    bk.registrationSecret = fallback.value.trim();
    touched = true;
  }
  if (touched) c.onboarding.boundKeypair = bk;
}

function nonEmpty(f: FromCli<string>): string {
  const v = f.value.trim();
  if (v === "") throw cliError(f.from, "the value is empty");
  return v;
}

function flagAddress(f: FromCli<string>, defaultPort: number | undefined): string {
  const a = normalizeAddress(f.value, { defaultPort, allowPortZero: defaultPort === undefined });
  if (typeof a !== "string") throw cliError(f.from, a.error);
  return a;
}

function flagDuration(f: FromCli<string>): number {
  const ms = parseDuration(f.value);
  if (typeof ms === "string") throw cliError(f.from, ms);
  return ms;
}
