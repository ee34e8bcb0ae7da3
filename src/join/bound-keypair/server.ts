// Bound keypair joining, server half (reference §5.3–5.6). Each step is stateless on the
// server: the state travels in a signed, single-use continuation, and every change to the
// token's status happens in one compare-and-swap at the end, against the token revision the
// join started from — so two concurrent joins (a bot and its copy) cannot both win.

import { timingSafeEqual } from "node:crypto";
import type { BoundKeypairSpec, BoundKeypairStatus, TokenResource } from "../../auth/resources/index.ts";
import { authorizedKeyProblem } from "../../auth/resources/index.ts";
import { JwsError, verifyJws } from "../../crypto/jws.ts";
import { importSshPublicKey } from "../../crypto/ssh/index.ts";
import type { JoinRequest, JoinResponse } from "../../protocol/messages.ts";
import { accessDenied, badParameter, isCode, UserError } from "../../util/errors.ts";
import { validateBotTokenForJoin } from "../token-rules.ts";
import type { JoinContext, JoinMethodServer, StoredTokenView } from "../types.ts";
import {
  BOUND_KEYPAIR,
  type BoundKeypairChallenge,
  type BoundKeypairInit,
  type BoundKeypairSolution,
  CHALLENGE_TTL_MS,
  type ChallengeClaims,
  type JoinStateClaims,
  keyId,
  samePublicKey,
} from "./messages.ts";

/** Which row of the §5.6 table a join is. */
type JoinCase = "initial_key" | "registration" | "refresh" | "recovery";

interface StepState {
  phase: "challenge" | "rotation";
  case: JoinCase;
  /** Token revision the join started from; the final CAS is against it. */
  revision: string;
  /** Key the pending challenge is for. */
  key?: string;
  challenge?: string;
  rotate: boolean;
  rotated: boolean;
}

const leewayS = 60;
const nowS = () => Math.floor(Date.now() / 1000);

function specOf(t: TokenResource): BoundKeypairSpec {
  const s = t.spec.bound_keypair;
  return {
    onboarding: s?.onboarding ?? {},
    recovery: { mode: s?.recovery?.mode ?? "standard", limit: s?.recovery?.limit ?? 1 },
    ...(s?.rotate_after ? { rotate_after: s.rotate_after } : {}),
  };
}

const statusOf = (t: TokenResource): BoundKeypairStatus => t.status?.bound_keypair ?? {};

function secretsEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  // Compare equal-length buffers only, so the time does not depend on where they differ.
  return x.length === y.length && timingSafeEqual(x, y);
}

async function loadToken(ctx: JoinContext, name: string): Promise<StoredTokenView> {
  const found = await ctx.findToken(name);
  if (!found) throw accessDenied("join token expired or not found: ask the cluster operator for a new one");
  if (found.token.spec.join_method !== BOUND_KEYPAIR)
    throw badParameter(
      `join token uses the "${found.token.spec.join_method}" join method, not "bound_keypair"; set onboarding.join_method accordingly`,
    );
  return found;
}

function classify(ctx: JoinContext, t: TokenResource): JoinCase {
  const st = statusOf(t);
  if (!st.bound_public_key) {
    if (ctx.caller)
      throw badParameter("this token has no bound key yet, so it cannot be used to refresh an identity");
    return specOf(t).onboarding.initial_public_key ? "initial_key" : "registration";
  }
  if (!st.bound_bot_instance_id)
    throw new UserError("bad backend state: bound key without bound bot instance", "internal");
  return ctx.caller ? "refresh" : "recovery";
}

function consumesRecovery(c: JoinCase): boolean {
  return c !== "refresh";
}

/** The limit (standard mode) and the join-state document (unless insecure), §5.5–5.6. */
async function checkPolicy(
  ctx: JoinContext,
  name: string,
  t: TokenResource,
  c: JoinCase,
  previousJoinState: string | undefined,
): Promise<void> {
  const spec = specOf(t);
  const st = statusOf(t);
  const count = st.recovery_count ?? 0;
  if (consumesRecovery(c) && spec.recovery.mode === "standard" && count >= spec.recovery.limit)
    throw accessDenied(
      `bound keypair recovery limit reached (${count} of ${spec.recovery.limit} used); to allow another recovery, raise spec.bound_keypair.recovery.limit of token "${name}" with "tctl create -f"`,
    );
  if (c === "refresh") {
    const caller = ctx.caller!;
    if (caller.botName !== t.spec.bot_name || caller.botInstanceId !== st.bound_bot_instance_id)
      await joinStateFailure(
        ctx,
        name,
        `the refreshing bot instance ${caller.botInstanceId} is not the one bound to the token (${st.bound_bot_instance_id}); the bot's state may have been copied`,
      );
  }
  // A join state vouches for the bound instance: there is none to check before a key is bound
  // (first registration, or after an administrator rebound the token with a new key or secret).
  if (spec.recovery.mode === "insecure" || count === 0 || !st.bound_public_key) return;
  if (!previousJoinState)
    await joinStateFailure(
      ctx,
      name,
      "no join state was presented, but this token requires one (its key has been used before)",
    );
  let claims: JoinStateClaims;
  try {
    claims = (await ctx.verifyJoinState(previousJoinState!)) as unknown as JoinStateClaims;
  } catch (e) {
    return joinStateFailure(ctx, name, `join state does not verify: ${(e as Error).message}`);
  }
  if (claims.iss !== ctx.clusterName || claims.aud !== ctx.clusterName || claims.sub !== t.spec.bot_name)
    await joinStateFailure(ctx, name, "join state was issued for another cluster or bot");
  if (claims.recovery_sequence !== count || claims.bot_instance_id !== st.bound_bot_instance_id)
    await joinStateFailure(
      ctx,
      name,
      `join state is stale (recovery sequence ${claims.recovery_sequence}, expected ${count}); the bot's state may have been copied`,
    );
}

async function joinStateFailure(ctx: JoinContext, name: string, reason: string): Promise<never> {
  await ctx.lockToken(name, `bound keypair join state verification failed: ${reason}`);
  ctx.audit("bound_keypair.join_state_verification_failed", {
    token: name,
    reason,
    remote_addr: ctx.remoteAddr,
  });
  throw accessDenied(
    `${reason}. Token "${name}" is now locked; an administrator must investigate and remove the lock`,
  );
}

function needsRotation(t: TokenResource): boolean {
  const at = specOf(t).rotate_after;
  if (!at || Date.parse(at) > Date.now()) return false;
  const last = statusOf(t).last_rotated_at;
  return !last || Date.parse(last) < Date.parse(at);
}

async function challengeFor(
  ctx: JoinContext,
  key: string,
  s: Omit<StepState, "phase" | "key" | "challenge">,
): Promise<JoinResponse> {
  const now = nowS();
  const claims: ChallengeClaims = {
    iss: ctx.clusterName,
    aud: ctx.clusterName,
    sub: keyId(key),
    iat: now,
    nbf: now - 10,
    exp: now + CHALLENGE_TTL_MS / 1000,
    nonce: Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("hex"),
  };
  const challenge = JSON.stringify(claims);
  const state: StepState = { ...s, phase: "challenge", key, challenge };
  const body: BoundKeypairChallenge = { type: "bound_keypair_challenge", public_key: key, challenge };
  return {
    type: "challenge",
    continuation: await ctx.issueContinuation({ ...state }, CHALLENGE_TTL_MS),
    challenge: body,
  };
}

async function rotationRequest(
  ctx: JoinContext,
  s: Omit<StepState, "phase" | "challenge">,
): Promise<JoinResponse> {
  const state: StepState = { ...s, phase: "rotation" };
  const body: BoundKeypairChallenge = {
    type: "bound_keypair_rotation_request",
    signature_algorithm_suite: "balanced-v1",
  };
  return {
    type: "challenge",
    continuation: await ctx.issueContinuation({ ...state }, CHALLENGE_TTL_MS),
    challenge: body,
  };
}

async function begin(ctx: JoinContext, req: JoinRequest): Promise<JoinResponse> {
  const name = req.client_init.token_name;
  const found = await loadToken(ctx, name);
  const t = found.token;
  await validateBotTokenForJoin(ctx, t);
  const init = (req.method_init ?? {}) as BoundKeypairInit;
  const c = classify(ctx, t);
  await checkPolicy(ctx, name, t, c, init.previous_join_state);
  const spec = specOf(t);
  const base = {
    case: c,
    revision: found.revision,
    rotate: needsRotation(t) || c === "registration",
    rotated: false,
  };
  if (c === "registration") {
    const deadline = spec.onboarding.must_register_before;
    if (deadline && Date.parse(deadline) < Date.now())
      throw accessDenied(
        `the registration deadline of token "${name}" (${deadline}) has passed; set a new must_register_before or registration secret`,
      );
    const expected = statusOf(t).registration_secret || spec.onboarding.registration_secret || "";
    if (!expected || !init.initial_join_secret || !secretsEqual(init.initial_join_secret, expected))
      throw accessDenied(`a valid registration secret is required to join with token "${name}"`);
    // No key is bound yet: ask the bot for a fresh key, then challenge it.
    return rotationRequest(ctx, base);
  }
  const key = c === "initial_key" ? spec.onboarding.initial_public_key! : statusOf(t).bound_public_key!;
  return challengeFor(ctx, key, base);
}

async function verifySolution(ctx: JoinContext, s: StepState, sol: BoundKeypairSolution): Promise<void> {
  if (sol?.type !== "bound_keypair_challenge_solution" || typeof sol.solution !== "string")
    throw badParameter("expected a bound_keypair_challenge_solution");
  const key = await importSshPublicKey(s.key!).catch(() => {
    throw badParameter("the bound public key cannot be used for verification");
  });
  let payload: string;
  try {
    payload = (await verifyJws(sol.solution, key)).payload;
  } catch (e) {
    if (e instanceof JwsError) throw accessDenied(`challenge verification failed: ${e.message}`);
    throw e;
  }
  let claims: ChallengeClaims;
  try {
    claims = JSON.parse(payload) as ChallengeClaims;
  } catch {
    throw accessDenied("challenge verification failed: the signed payload is not the challenge");
  }
  const issued = JSON.parse(s.challenge!) as ChallengeClaims;
  const now = nowS();
  const exact =
    claims.iss === issued.iss &&
    claims.aud === issued.aud &&
    claims.sub === issued.sub &&
    claims.iat === issued.iat &&
    claims.nbf === issued.nbf &&
    claims.exp === issued.exp;
  const nonceOk = typeof claims.nonce === "string" && secretsEqual(claims.nonce, issued.nonce);
  if (!exact || !nonceOk)
    throw accessDenied("challenge verification failed: the signed claims differ from the challenge");
  if (now > claims.exp + leewayS || now < claims.nbf - leewayS)
    throw accessDenied("challenge verification failed: the challenge has expired");
}

async function finalize(ctx: JoinContext, req: JoinRequest, s: StepState): Promise<JoinResponse> {
  const name = req.client_init.token_name;
  const found = await loadToken(ctx, name);
  if (found.revision !== s.revision)
    throw new UserError("the token changed while this join was in progress; join again", "compare_failed");
  const t = found.token;
  const bot = await validateBotTokenForJoin(ctx, t);
  const spec = specOf(t);
  const st = statusOf(t);
  const now = new Date().toISOString();
  const newInstance = s.case !== "refresh";
  const instanceId = newInstance ? ctx.newInstanceId() : ctx.caller!.botInstanceId!;
  const next: BoundKeypairStatus = { ...st, bound_public_key: s.key!, bound_bot_instance_id: instanceId };
  if (consumesRecovery(s.case)) {
    next.recovery_count = (st.recovery_count ?? 0) + 1;
    next.last_recovered_at = now;
  }
  if (s.rotated) next.last_rotated_at = now;
  if (s.case === "registration") delete next.registration_secret;
  const joinState: JoinStateClaims = {
    iss: ctx.clusterName,
    aud: ctx.clusterName,
    sub: bot.metadata.name,
    iat: nowS(),
    nbf: nowS(),
    bot_instance_id: instanceId,
    recovery_sequence: next.recovery_count ?? 0,
    recovery_limit: spec.recovery.limit,
    recovery_mode: spec.recovery.mode,
  };
  try {
    await ctx.updateToken(name, found.revision, { ...t, status: { ...t.status, bound_keypair: next } });
  } catch (e) {
    if (isCode(e, "compare_failed"))
      throw new UserError("another join changed this token at the same time; join again", "compare_failed");
    throw e;
  }
  if (consumesRecovery(s.case))
    ctx.audit("bound_keypair.recovery", {
      token: name,
      bot: bot.metadata.name,
      recovery_count: next.recovery_count,
      bot_instance_id: instanceId,
    });
  if (s.rotated)
    ctx.audit("bound_keypair.rotation", { token: name, bot: bot.metadata.name, public_key: s.key });
  return ctx.finishBotJoin({
    bot,
    tokenHint: name,
    joinMethod: BOUND_KEYPAIR,
    renewable: false,
    publicKeys: req.bot_params.public_keys,
    expires: new Date(req.bot_params.expires),
    instanceId,
    isNewInstance: newInstance,
    ...(newInstance
      ? {}
      : {
          expectedGeneration: ctx.caller!.generation,
          onGenerationMismatch: () =>
            joinStateFailure(
              ctx,
              name,
              `the refreshing certificate is of generation ${ctx.caller!.generation}, an older one than the instance's; the bot's state may have been copied`,
            ),
        }),
    methodResult: {
      join_state: await ctx.signJoinState(joinState as unknown as Record<string, unknown>),
      public_key: s.key!,
    },
  });
}

async function step(ctx: JoinContext, req: JoinRequest, s: StepState): Promise<JoinResponse> {
  const sol = req.solution as BoundKeypairSolution | undefined;
  if (s.phase === "rotation") {
    if (sol?.type !== "bound_keypair_rotation_response" || typeof sol.public_key !== "string")
      throw badParameter("expected a bound_keypair_rotation_response with the new public key");
    const problem = authorizedKeyProblem(sol.public_key);
    if (problem) throw badParameter(`the new bound public key is not usable: ${problem}`);
    if (s.key && samePublicKey(s.key, sol.public_key))
      throw badParameter("the new bound key must differ from the old one");
    return challengeFor(ctx, sol.public_key.trim(), {
      case: s.case,
      revision: s.revision,
      rotate: s.rotate,
      rotated: true,
    });
  }
  await verifySolution(ctx, s, sol!);
  if (s.rotate && !s.rotated)
    return rotationRequest(ctx, {
      case: s.case,
      revision: s.revision,
      rotate: true,
      rotated: false,
      key: s.key,
    });
  return finalize(ctx, req, s);
}

export const boundKeypairJoinServer: JoinMethodServer = {
  method: BOUND_KEYPAIR,
  async handle(ctx, req) {
    if (!req.continuation) return begin(ctx, req);
    const state = (await ctx.redeemContinuation(req.continuation)) as unknown as StepState;
    return step(ctx, req, state);
  },
};
