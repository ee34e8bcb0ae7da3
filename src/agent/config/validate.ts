// Cross-field rules of tbot.yaml (§1.1–1.5, App. B). They run on the final config, after CLI
// flags were laid over the file, and point into the file through ConfigPlaces when they can.
// `tbot configure` and `tbot start` both run exactly this (through buildStartConfig), so that
// configure refuses every config start would refuse for its content alone. What start can
// only learn from the host (the network, a TPM, the storage directory and what it holds,
// files named by paths) is not checked here.

import { isCaPin } from "../../crypto/pin.ts";
import { normalizeAddress } from "../../util/host-port.ts";
import { defaultAuthPort, defaultProxyPort } from "./defaults.ts";
import { joinMethodProblem } from "./join-methods.ts";
import { parseJoinUri } from "./join-uri.ts";
import { setOnboardingBlocks } from "./method-settings.ts";
import { ConfigPlaces } from "./places.ts";
import { botTtlScope, validateTtlPair } from "./ttl-rules.ts";
import type { BotConfig } from "./types.ts";
import { validateDestination } from "./validate-destinations.ts";
import { validateMemoryStorageJoin } from "./validate-memory-join.ts";
import { validateServices } from "./validate-services.ts";

/** Throws a UserError for the first problem; returns warnings for doubtful but usable settings. */
export function validateConfig(c: BotConfig, places: ConfigPlaces = new ConfigPlaces()): string[] {
  const warnings: string[] = [];
  validateFips(c, places);
  validateAddresses(c, places);
  validateOnboarding(c, places, warnings);
  validateTtlPair(c.credentialTtlMs, c.renewalIntervalMs, c.oneshot, botTtlScope, places, warnings);
  validateDestination(c.storage, "storage", places);
  validateMemoryStorageJoin(c, places);
  validateServices(c, places, warnings);
  return warnings;
}

/**
 * `fips: true` (or --fips) asks for FIPS 140 mode. This build has no validated cryptographic
 * module, so it refuses rather than run while the operator believes it is in FIPS mode.
 */
function validateFips(c: BotConfig, places: ConfigPlaces): void {
  if (c.fips)
    throw places.error(
      "fips",
      'fips: FIPS mode is not available in this build (it has no FIPS 140 validated cryptographic module); remove "fips: true" or --fips to run without it',
    );
}

function validateAddresses(c: BotConfig, places: ConfigPlaces): void {
  for (const [key, value, defaultPort] of [
    ["proxy_server", c.proxyServer, defaultProxyPort],
    ["auth_server", c.authServer, defaultAuthPort],
    ["diag_addr", c.diagAddr, undefined],
  ] as const) {
    if (value === undefined) continue;
    const a = normalizeAddress(value, { defaultPort, allowPortZero: defaultPort === undefined });
    if (typeof a !== "string") throw places.error(key, `${key}: ${a.error}`);
  }

  if (c.joinUri !== undefined) {
    const uri = parseJoinUri(c.joinUri);
    if (typeof uri === "string") throw places.error("join_uri", uri);
    const conflicts: [string, unknown][] = [
      ["proxy_server", c.proxyServer],
      ["auth_server", c.authServer],
      ["onboarding.token", c.onboarding.token],
      ["onboarding.join_method", c.onboarding.joinMethod || undefined],
    ];
    if (uri.parameter !== undefined) {
      conflicts.push([
        "onboarding.bound_keypair.registration_secret",
        c.onboarding.boundKeypair?.registrationSecret,
      ]);
      conflicts.push([
        "onboarding.bound_keypair.registration_secret_path",
        c.onboarding.boundKeypair?.registrationSecretPath,
      ]);
    }
    for (const [key, value] of conflicts) {
      if (value === undefined) continue;
      throw places.error(
        places.has(key) ? key : "join_uri",
        `join_uri cannot be combined with ${key}: the join URI already carries the address, join method, ` +
          `token and secret; remove one of them`,
      );
    }
    return;
  }

  if (c.proxyServer !== undefined && c.authServer !== undefined)
    throw places.error(
      places.has("auth_server") ? "auth_server" : "proxy_server",
      "proxy_server and auth_server are both set; keep only one (proxy_server is recommended)",
    );
  if (c.proxyServer === undefined && c.authServer === undefined)
    throw places.error(
      undefined,
      "either a proxy or auth address must be set: set proxy_server (or auth_server, or join_uri) " +
        "in the config, or pass --proxy-server",
    );
}

function validateOnboarding(c: BotConfig, places: ConfigPlaces, warnings: string[]): void {
  const o = c.onboarding;
  const methodProblem = joinMethodProblem(o.joinMethod);
  if (methodProblem) throw places.error("onboarding.join_method", methodProblem);

  o.caPins.forEach((pin, i) => {
    if (!isCaPin(pin.toLowerCase()))
      throw places.error(
        `onboarding.ca_pins[${i}]`,
        `ca_pins[${i}]: "${pin}" is not a CA pin; expected sha256:<64 hex digits>, as "tctl status" prints it`,
      );
  });
  if (o.caPins.length > 0 && o.caPath !== undefined)
    throw places.error(
      "onboarding.ca_path",
      "the options ca-pin and ca-path are mutually exclusive; keep one",
    );
  if (c.insecure && o.caPins.length > 0)
    throw places.error(
      places.has("onboarding.ca_pins") ? "onboarding.ca_pins" : "insecure",
      "the option ca-pin is mutually exclusive with --insecure; pinning and skipping verification contradict each other",
    );
  if (c.insecure && o.caPath !== undefined)
    throw places.error(
      places.has("onboarding.ca_path") ? "onboarding.ca_path" : "insecure",
      "the option ca-path is mutually exclusive with --insecure; pinning and skipping verification contradict each other",
    );

  for (const { method, block, settings } of setOnboardingBlocks(o)) {
    const problem = block.problem?.(settings);
    if (problem) throw places.error(...problem);
    if (o.joinMethod !== "" && o.joinMethod !== method)
      warnings.push(`onboarding.${block.key} is ignored because join_method is "${o.joinMethod}"`);
  }
}
