// Defaults of §1.2 of the reference, in one place so that the parser, the flags overlay and
// the renderer (which omits defaults) agree on them.

import type { BotConfig, DirectoryDestination } from "./types.ts";

export const defaultStoragePath = "/var/lib/teleport/bot";
export const defaultCredentialTtlMs = 60 * 60_000;
export const defaultRenewalIntervalMs = 20 * 60_000;
/** The server's ceiling for renewable certificates; longer requests are clamped (warning only). */
export const maxCredentialTtlMs = 24 * 60 * 60_000;
export { defaultAuthPort, defaultProxyPort } from "../../util/host-port.ts";

export function directoryDestination(path: string): DirectoryDestination {
  return { type: "directory", path, symlinks: "try-secure", acls: "try", readers: [] };
}

/** The configuration a bot has when neither a file nor flags say anything. */
export function defaultConfig(): BotConfig {
  return {
    version: "v2",
    onboarding: { joinMethod: "", caPins: [] },
    storage: directoryDestination(defaultStoragePath),
    services: [],
    credentialTtlMs: defaultCredentialTtlMs,
    renewalIntervalMs: defaultRenewalIntervalMs,
    oneshot: false,
    debug: false,
    insecure: false,
    fips: false,
  };
}
