// Join tokens that tctl creates for bots: single-use secrets of the token method, and
// bound-keypair tokens with a generated registration secret.

import { randomBytes } from "node:crypto";
import { maskSecret } from "../../join/types.ts";
import { formatDuration, parseDuration } from "../../util/duration.ts";
import { badParameter } from "../../util/errors.ts";
import type { TokenResource } from "../resources/index.ts";
import type { AuthService } from "../service.ts";
import { sha256Hex } from "../store/collection.ts";
import { putResource } from "./admin-resources.ts";

const DEFAULT_TOKEN_TTL_MS = 3600_000;

function ttlMs(text: string | undefined, dflt: number): number {
  if (!text) return dflt;
  const v = parseDuration(text);
  if (typeof v === "string") throw badParameter(`--ttl: ${v}`);
  if (v <= 0) throw badParameter("--ttl must be positive");
  return v;
}

/** A single-use bot join token of the `token` method. Its name is the secret. */
export async function addBotToken(svc: AuthService, bot: string, ttl: string | undefined, who: string) {
  const name = randomBytes(16).toString("hex");
  const lifetime = ttlMs(ttl, DEFAULT_TOKEN_TTL_MS);
  const expires = new Date(svc.clock.now() + lifetime); // the cluster clock: join checks compare with it
  const token: TokenResource = {
    kind: "token",
    version: "v2",
    metadata: { name, expires: expires.toISOString() },
    spec: { roles: ["Bot"], join_method: "token", bot_name: bot },
  };
  // The backend takes expiries on this replica's clock (PostgreSQL turns them into lifetimes).
  await svc.tokens.create(name, { token }, new Date(Date.now() + lifetime + 3600_000));
  svc.audit.emit("join_token.create", {
    bot,
    token: maskSecret(sha256Hex(name)),
    expires: expires.toISOString(),
    by: who,
  });
  return {
    token_name: name,
    token_ttl: formatDuration(lifetime),
    expires: expires.toISOString(),
  };
}

/**
 * A bound-keypair token for a new bot: its name is not secret; a registration secret is
 * generated (one recovery allowed: the first join), as the reference's v19 tctl does.
 */
export async function addBoundKeypairToken(svc: AuthService, bot: string, who: string) {
  const name = `${bot}-${randomBytes(4).toString("hex")}`;
  const token: TokenResource = {
    kind: "token",
    version: "v2",
    metadata: { name },
    spec: {
      roles: ["Bot"],
      join_method: "bound_keypair",
      bot_name: bot,
      bound_keypair: { onboarding: {}, recovery: { mode: "standard", limit: 1 } },
    },
  };
  await putResource(svc, token, false, who);
  const secret = (await svc.tokens.get(name))!.value.token.status!.bound_keypair!.registration_secret!;
  return { token_name: name, registration_secret: secret };
}
