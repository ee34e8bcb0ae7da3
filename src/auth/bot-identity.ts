// Bot identities after a join and at renewal: the certificates, the instance record (through
// src/auth/instances.ts, which applies the generation rules) and the audit trail.

import type { TlsIdentity } from "../crypto/tls-identity.ts";
import type { FinishJoinArgs } from "../join/types.ts";
import type { JoinResult, RenewRequest } from "../protocol/messages.ts";
import { parseDuration } from "../util/duration.ts";
import { accessDenied } from "../util/errors.ts";
import type { Verdict } from "./generations.ts";
import { checkIdentityInputs } from "./identity-inputs.ts";
import { type IssuedCerts, issueFirst, issueNext, keyHashOf } from "./instances.ts";
import { DEFAULT_MAX_SESSION_TTL_MS } from "./issuer.ts";
import { createLock } from "./locks.ts";
import { denial } from "./metrics/observer.ts";
import type { BotResource } from "./resources/index.ts";
import type { AuthService } from "./service.ts";
import type { Authentication } from "./store/types.ts";

export const botUserName = (bot: string) => `bot-${bot}`;
export const botRoleName = (bot: string) => `bot-${bot}`;

export function maxTtlOf(bot: BotResource): number {
  const t = bot.spec.max_session_ttl ? parseDuration(bot.spec.max_session_ttl) : DEFAULT_MAX_SESSION_TTL_MS;
  return typeof t === "number" && t > 0 ? t : DEFAULT_MAX_SESSION_TTL_MS;
}

export function traitsOf(bot: BotResource): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const t of bot.spec.traits ?? []) out[t.name] = t.values;
  return out;
}

/** The answer to a join or a renewal: the certificates (the issuer's expiry left out) and whom they name. */
function joinResult(
  certs: IssuedCerts,
  botName: string,
  botInstanceId: string,
  generation: number,
  methodResult?: Record<string, unknown>,
): JoinResult {
  const { expires: _e, ...certificates } = certs;
  return {
    type: "result",
    certificates,
    bot_name: botName,
    bot_instance_id: botInstanceId,
    generation,
    ...(methodResult ? { method_result: methodResult } : {}),
  };
}

/** The bot's own (internal) identity certificates for instance `id` at `generation`. */
function identityIssuer(svc: AuthService, bot: BotResource, id: string, req: IdentityAsk) {
  return (generation: number) =>
    svc.issuer.issueIdentity({
      username: botUserName(bot.metadata.name),
      roles: [botRoleName(bot.metadata.name)],
      publicKeys: req.publicKeys,
      requestedExpiry: req.expires,
      maxTtlMs: maxTtlOf(bot),
      renewable: req.renewable,
      generation,
      botName: bot.metadata.name,
      botInstanceId: id,
      disallowReissue: false,
      logins: [],
    });
}

/** A method's request to finish a join, with whether its method issues renewable certificates. */
export type BotJoinArgs = FinishJoinArgs & { renewable: boolean };

type IdentityAsk = Pick<BotJoinArgs, "publicKeys" | "expires" | "renewable">;

function rollbackAudit(svc: AuthService, bot: string, id: string, presented: number, remoteAddr: string) {
  return (v: Verdict) =>
    svc.audit.emit("backend_rollback_detected", {
      bot,
      bot_instance_id: id,
      presented_generation: presented,
      new_generation: "next" in v ? v.next : undefined,
      remote_addr: remoteAddr,
    });
}

/**
 * The end of every successful join: certificates for a new instance, or (an authenticated
 * re-join, `caller` set) the next ones of the caller's instance under the generation rules.
 */
export async function finishBotJoin(
  svc: AuthService,
  a: BotJoinArgs,
  remoteAddr: string,
  caller?: TlsIdentity,
): Promise<JoinResult> {
  const bot = a.bot.metadata.name;
  const auth: Authentication = {
    authenticated_at: new Date().toISOString(),
    join_method: a.joinMethod,
    join_token: a.tokenHint,
    generation: 1,
    public_key: a.publicKeys.tls_public_key,
    remote_addr: remoteAddr,
    join_attrs: {
      meta: { join_method: a.joinMethod, join_token_name: a.tokenHint },
      ...(a.joinAttributes ?? {}),
    },
  };
  const issue = identityIssuer(svc, a.bot, a.instanceId, a);
  let certs: IssuedCerts;
  let generation = 1;
  if (a.isNewInstance) {
    certs = await issueFirst(svc, {
      bot,
      id: a.instanceId,
      auth,
      issue,
      ...(a.commit ? { commit: a.commit } : {}),
      ...(a.again ? { again: true } : {}),
    });
  } else {
    if (!caller?.generation)
      throw accessDenied("a re-join that keeps its instance needs the bot's certificate");
    const presented = { generation: caller.generation, serial: caller.serial, key: keyHashOf(a.publicKeys) };
    const next = await issueNext(svc, {
      bot,
      id: a.instanceId,
      presented,
      auth,
      issue,
      ...(a.commit ? { commit: a.commit } : {}),
      onMismatch: async (stored) => {
        if (a.onGenerationMismatch) await a.onGenerationMismatch();
        throw denial(
          accessDenied(
            `the refreshing certificate is of generation ${caller.generation}, not the instance's current ${stored}; the bot's identity may have been copied`,
          ),
          "generation_mismatch",
        );
      },
      onRollback: rollbackAudit(svc, bot, a.instanceId, caller.generation, remoteAddr),
    });
    certs = next;
    generation = next.generation;
  }
  svc.audit.emit("bot.join", {
    bot,
    bot_instance_id: a.instanceId,
    join_method: a.joinMethod,
    token: a.tokenHint || undefined,
    new_instance: a.isNewInstance,
    ...(a.again ? { delivered_again: true } : {}),
    remote_addr: remoteAddr,
    expires: certs.expires.toISOString(),
  });
  return joinResult(certs, bot, a.instanceId, generation, a.methodResult);
}

export async function requireBot(svc: AuthService, caller: TlsIdentity): Promise<BotResource> {
  if (!caller.botName || !caller.botInstanceId) throw accessDenied("this call needs a bot identity");
  const bot = await svc.bots.get(caller.botName);
  if (!bot) throw accessDenied(`bot "${caller.botName}" no longer exists`);
  return bot.value;
}

/** Renewal of a renewable (token-joined) identity, under the generation rules (§4.2, §7.6). */
export async function renewBotIdentity(
  svc: AuthService,
  caller: TlsIdentity,
  req: RenewRequest,
  remoteAddr: string,
): Promise<JoinResult> {
  const bot = await requireBot(svc, caller);
  if (!caller.renewable)
    throw denial(
      accessDenied("this identity is not renewable; bots joined with other methods renew by joining again"),
      "not_renewable",
    );
  await checkIdentityInputs(req.public_keys, req.expires, svc.clock.now());
  const name = caller.botName!;
  const id = caller.botInstanceId!;
  const auth: Authentication = {
    authenticated_at: new Date().toISOString(),
    join_method: "token",
    join_token: "",
    generation: 0,
    public_key: req.public_keys.tls_public_key,
    remote_addr: remoteAddr,
  };
  const certs = await issueNext(svc, {
    bot: name,
    id,
    presented: {
      generation: caller.generation,
      serial: caller.serial,
      key: keyHashOf(req.public_keys),
      keyKept: req.key_kept === true,
    },
    auth,
    issue: identityIssuer(svc, bot, id, {
      publicKeys: req.public_keys,
      expires: new Date(req.expires),
      renewable: true,
    }),
    onMismatch: (stored) => generationMismatch(svc, caller, stored, remoteAddr),
    onRollback: rollbackAudit(svc, name, id, caller.generation, remoteAddr),
  });
  svc.audit.emit("cert.renew", {
    bot: name,
    bot_instance_id: id,
    generation: certs.generation,
    expires: certs.expires.toISOString(),
  });
  return joinResult(certs, name, id, certs.generation);
}

async function generationMismatch(
  svc: AuthService,
  caller: TlsIdentity,
  stored: number,
  remoteAddr: string,
): Promise<never> {
  const msg = `renewable certificate generation mismatch: presented ${caller.generation}, expected ${stored}; the bot's identity may have been copied`;
  await createLock(svc, { bot_instance_id: caller.botInstanceId! }, msg, "tauth");
  svc.audit.emit("renewable_certificate_generation_mismatch", {
    bot: caller.botName,
    bot_instance_id: caller.botInstanceId,
    presented_generation: caller.generation,
    expected_generation: stored,
    remote_addr: remoteAddr,
  });
  throw denial(
    accessDenied(
      `${msg}. Bot instance ${caller.botInstanceId} is now locked; rejoin with a new token (tctl bots instances add ${caller.botName})`,
    ),
    "generation_mismatch",
  );
}
