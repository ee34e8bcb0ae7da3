// POST /v1/join: dispatches to the method's server half, found through the join method
// registry (src/join/registry.ts), with a JoinContext built on the auth service.

import { JwsError, signJwsWebCrypto, verifyJws } from "../../crypto/jws.ts";
import type { TlsIdentity } from "../../crypto/tls-identity.ts";
import { implementedJoinMethod, implementedJoinMethodNames } from "../../join/registry.ts";
import type { JoinContext } from "../../join/types.ts";
import { maskSecret } from "../../join/types.ts";
import { type JoinRequest, JoinRequestSchema, type JoinResponse } from "../../protocol/messages.ts";
import { accessDenied, badParameter, isCode, UserError } from "../../util/errors.ts";
import { finishBotJoin } from "../bot-identity.ts";
import { checkIdentityInputs } from "../identity-inputs.ts";
import { isUnusedInstance } from "../instances.ts";
import { createLock, findLock } from "../locks.ts";
import { denial, denialReason, metricsSink, type Outcome, outcomeOf } from "../metrics/observer.ts";
import type { AuthService, StoredToken } from "../service.ts";
import { sha256Hex } from "../store/collection.ts";

/** The request's shape and bounds (also checked by the router before the handler runs). */
function checkShape(req: JoinRequest): void {
  JoinRequestSchema.parse(req, "");
}

async function lockOfTokenBot(svc: AuthService, tokenName: string) {
  const bot = (await svc.tokens.get(tokenName))?.value.token.spec.bot_name;
  return bot ? findLock(svc, { bot }) : null;
}

export async function handleJoin(
  svc: AuthService,
  req: JoinRequest,
  remoteAddr: string,
  caller?: TlsIdentity,
): Promise<JoinResponse> {
  checkShape(req);
  const method = req.client_init.join_method || "token";
  const descriptor = implementedJoinMethod(method);
  const tokenHash = sha256Hex(req.client_init.token_name);
  const ctx: JoinContext = {
    remoteAddr,
    caller,
    async findToken(name) {
      const t = await svc.tokens.get(name);
      if (!t) return null;
      const v = t.value;
      return {
        token: v.token,
        revision: t.revision,
        ...(v.consumed_at ? { consumedAt: v.consumed_at } : {}),
        ...(v.consumed_by_instance ? { consumedByInstance: v.consumed_by_instance } : {}),
        ...(v.consumed_by_key ? { consumedByKey: v.consumed_by_key } : {}),
      };
    },
    async consumeToken(name, revision, instanceId, keyId) {
      const t = await svc.tokens.get(name);
      if (!t || t.revision !== revision) throw new UserError("token changed", "compare_failed");
      const next: StoredToken = {
        ...t.value,
        consumed_at: new Date().toISOString(),
        consumed_by_instance: instanceId,
        consumed_by_key: keyId,
      };
      // Keep the tombstone a day so a reuse gets a clear message, then let it expire.
      await svc.tokens.compareAndSwap(name, revision, next, new Date(Date.now() + 24 * 3600_000));
    },
    isUnusedInstance: (bot, id) => isUnusedInstance(svc, bot, id),
    async getBot(name) {
      return (await svc.bots.get(name))?.value ?? null;
    },
    newInstanceId: () => crypto.randomUUID(),
    clusterName: svc.clusterName,
    now: () => svc.clock.now(),
    fetch: (url, init) => svc.httpFetch(url, init),
    methodCache: (key, make) => svc.methodCache(key, make),
    issueContinuation: (state, ttlMs) =>
      svc.continuations.issue(method, req.client_init.token_name, state, ttlMs),
    redeemContinuation: (text) => svc.continuations.redeem(text, method, req.client_init.token_name),
    async updateToken(name, revision, token) {
      const t = await svc.tokens.get(name);
      if (!t || t.revision !== revision) throw new UserError("token changed concurrently", "compare_failed");
      await svc.tokens.compareAndSwap(name, revision, { ...t.value, token }, t.expires);
    },
    async lockToken(name, message) {
      await createLock(svc, { join_token: name }, message, "tauth");
    },
    signJoinState: (claims) =>
      signJwsWebCrypto(JSON.stringify(claims), svc.joinKeys.joinStateKey.privateKey, {
        kid: svc.joinKeys.joinStateKid,
      }),
    async verifyJoinState(jwt) {
      const { header, payload } = await verifyJws(jwt, svc.joinKeys.joinStateKey.publicKey);
      if (header.kid !== svc.joinKeys.joinStateKid)
        throw new JwsError("join state was signed by an unknown key");
      return JSON.parse(payload) as Record<string, unknown>;
    },
    async finishBotJoin(args) {
      const hint = args.joinMethod === "token" ? maskSecret(tokenHash) : req.client_init.token_name;
      // Whether the certificates renew is the method's, as its descriptor declares.
      const renewable = descriptor?.renewable ?? false;
      return finishBotJoin(
        svc,
        { ...args, renewable, tokenHint: args.tokenHint || hint },
        remoteAddr,
        caller,
      );
    },
    audit: (event, fields) => svc.audit.emit(event, fields),
  };
  const auditToken = method === "token" ? maskSecret(tokenHash) : req.client_init.token_name;
  // Metrics: the method from the registry's names only; a re-join with the bot's certificate
  // is that bot's renewal (non-renewable methods renew by joining again).
  const sink = metricsSink();
  const methodLabel = descriptor ? method : "unsupported";
  const report = (o: Outcome) => (caller ? sink?.renewal(methodLabel, o) : sink?.join(methodLabel, o));
  try {
    if (!descriptor)
      throw badParameter(
        `join method "${method}" is not supported by this auth service (supported: ${implementedJoinMethodNames.join(", ")})`,
      );
    const lock =
      (await findLock(svc, {
        token: req.client_init.token_name,
        bot: caller?.botName,
        instance: caller?.botInstanceId,
      })) ??
      // A lock on a bot also denies fresh joins with a token for it (no caller certificate),
      // checked before the method runs so the token is not used up.
      (await lockOfTokenBot(svc, req.client_init.token_name));
    if (lock)
      throw denial(
        accessDenied(`join denied: locked (${lock.spec.message}; lock ${lock.metadata.name})`),
        "locked",
      );
    // Input first: a join refused for its keys or expiry has used no token and moved nothing.
    await checkIdentityInputs(req.bot_params.public_keys, req.bot_params.expires, svc.clock.now());
    const res = await (await descriptor.server()).handle(ctx, req);
    report("ok");
    return res;
  } catch (e) {
    report(outcomeOf(e));
    const reason = e instanceof UserError ? e.message : "internal error";
    svc.audit.emit("bot.join.failed", {
      join_method: method,
      token: auditToken,
      remote_addr: remoteAddr,
      reason,
    });
    // A refusal the method decided (token unknown, used or expired; a proof that failed).
    const refused = method === "token" ? "bad_token" : "attestation_failed";
    if (isCode(e, "not_found"))
      throw denial(new UserError((e as Error).message, "access_denied"), denialReason(e) ?? refused);
    if (isCode(e, "access_denied") && denialReason(e) === "access_denied") denial(e as Error, refused);
    throw e;
  }
}
