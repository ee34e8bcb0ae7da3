// The credential_ttl / renewal_interval rules of §1.2, shared by the bot's own pair and
// every per-service override.

import { formatDuration } from "../../util/duration.ts";
import { maxCredentialTtlMs } from "./defaults.ts";
import type { ConfigPlaces } from "./places.ts";

/** Whose TTL pair is checked: the bot's (key "") or one service's (key "services[2]"). */
export interface TtlScope {
  key: string;
  /** How the owner is named in messages, e.g. "outputs[0]". */
  label: string;
}
export const botTtlScope: TtlScope = { key: "", label: "" };

/** The TTL/interval rules of §1.2, for the bot and for each service override. */
export function validateTtlPair(
  ttlMs: number,
  intervalMs: number,
  oneshot: boolean,
  scope: TtlScope,
  places: ConfigPlaces,
  warnings: string[],
): void {
  const keyPrefix = scope.key === "" ? "" : `${scope.key}.`;
  const labelPrefix = scope.label === "" ? "" : `${scope.label}.`;
  for (const [key, ms] of [
    ["credential_ttl", ttlMs],
    ["renewal_interval", intervalMs],
  ] as const) {
    if (!Number.isFinite(ms) || ms < 0)
      throw places.error(`${keyPrefix}${key}`, `${labelPrefix}${key} must not be negative, got ${ms}ms`);
  }
  const where = scope.label === "" ? "" : `${scope.label}: `;
  if (!oneshot && ttlMs < intervalMs)
    warnings.push(
      `${where}Certificate TTL (${formatDuration(ttlMs)}) is shorter than the renewal interval ` +
        `(${formatDuration(intervalMs)}). This is likely an invalid configuration. ` +
        "Increase the certificate TTL or decrease the renewal interval.",
    );
  if (ttlMs > maxCredentialTtlMs)
    warnings.push(
      `${where}credential_ttl (${formatDuration(ttlMs)}) exceeds the maximum of ${formatDuration(maxCredentialTtlMs)}; ` +
        "the server will issue shorter credentials (its limit is the bot role's max_session_ttl)",
    );
}
