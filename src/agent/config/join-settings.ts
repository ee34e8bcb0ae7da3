// The join parameters a bot will use, whichever way they were given: a join URI, or
// proxy_server/auth_server plus onboarding. Join code reads this instead of both forms.

import { parseJoinUri } from "./join-uri.ts";
import type { BotConfig } from "./types.ts";

export interface JoinSettings {
  addressKind: "proxy" | "auth";
  /** host:port */
  address: string;
  /** "" when unset. */
  joinMethod: string;
  /** A token value or a path to a file holding it (resolved at join time). */
  token?: string;
  /** Inline registration secret (bound_keypair), from onboarding or the join URI. */
  registrationSecret?: string;
  registrationSecretPath?: string;
}

/** For a config that passed validateConfig (so exactly one source of address exists). */
export function joinSettings(c: BotConfig): JoinSettings {
  if (c.joinUri !== undefined) {
    const u = parseJoinUri(c.joinUri);
    if (typeof u === "string") throw new Error(`joinSettings on an unvalidated config: ${u}`);
    const out: JoinSettings = {
      addressKind: u.addressKind,
      address: u.address,
      joinMethod: u.joinMethod,
      token: u.token,
    };
    const bk = c.onboarding.boundKeypair;
    if (u.parameter !== undefined) out.registrationSecret = u.parameter;
    else if (bk?.registrationSecret !== undefined) out.registrationSecret = bk.registrationSecret;
    else if (bk?.registrationSecretPath !== undefined) out.registrationSecretPath = bk.registrationSecretPath;
    return out;
  }
  const out: JoinSettings = {
    addressKind: c.proxyServer !== undefined ? "proxy" : "auth",
    address: (c.proxyServer ?? c.authServer)!,
    joinMethod: c.onboarding.joinMethod,
  };
  if (c.onboarding.token !== undefined) out.token = c.onboarding.token;
  const bk = c.onboarding.boundKeypair;
  if (bk?.registrationSecret !== undefined) out.registrationSecret = bk.registrationSecret;
  if (bk?.registrationSecretPath !== undefined) out.registrationSecretPath = bk.registrationSecretPath;
  return out;
}

/** The join URI's method parameter (bound_keypair: the registration secret), handed to the method. */
export function joinUriParameter(c: BotConfig): string | undefined {
  if (c.joinUri === undefined) return undefined;
  const u = parseJoinUri(c.joinUri);
  return typeof u === "string" ? undefined : u.parameter;
}
