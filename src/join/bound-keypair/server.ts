// Bound keypair joining, server half (reference §5.3–5.6). Each step is stateless on the
// server: the state travels in a signed, single-use continuation. Nothing changes before the
// bound key has answered its challenge (policy.ts runs after that), and every change to the
// token's status happens in one compare-and-swap at the end, against the token revision the
// join started from — so two concurrent joins (a bot and its copy) cannot both win.

import { timingSafeEqual } from "node:crypto";
import { JwsError, verifyJws } from "../../crypto/jws.ts";
import { importSshPublicKey } from "../../crypto/ssh/index.ts";
import type { JoinRequest, JoinResponse } from "../../protocol/messages.ts";
import { authorizedKeyProblem } from "../../resources/authorized-key.ts";
import type { BoundKeypairStatus, TokenResource } from "../../resources/types.ts";
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
import {
  checkPolicy,
  consumesRecovery,
  isLostResponse,
  type JoinCase,
  joinStateFailure,
  specOf,
  statusOf,
} from "./policy.ts";

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
  /** The join state the bot presented with its first message (checked after the proof). */
  joinState?: string;
}

const leewayS = 60;
/** Seconds by the cluster's clock: a challenge issued by one replica is judged by another. */
const nowS = (ctx: JoinContext) => Math.floor(ctx.now() / 1000);

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
  // No key bound yet: a first binding, by the initial key or the registration secret, whoever
  // asks. A bot that refreshes with a certificate meets this after its database was restored
  // from a backup made before its token was bound: its certificate proves nothing here, so it
  // binds again exactly as it first did (same proof, same recovery used), as a new instance.
  if (!st.bound_public_key) return specOf(t).onboarding.initial_public_key ? "initial_key" : "registration";
  if (!st.bound_bot_instance_id)
    throw new UserError("bad backend state: bound key without bound bot instance", "internal");
  return ctx.caller ? "refresh" : "recovery";
}

function needsRotation(ctx: JoinContext, t: TokenResource): boolean {
  const at = specOf(t).rotate_after;
  if (!at || Date.parse(at) > ctx.now()) return false;
  const last = statusOf(t).last_rotated_at;
  return !last || Date.parse(last) < Date.parse(at);
}

async function challengeFor(
  ctx: JoinContext,
  key: string,
  s: Omit<StepState, "phase" | "key" | "challenge">,
): Promise<JoinResponse> {
  const now = nowS(ctx);
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

function initOf(req: JoinRequest): BoundKeypairInit {
  const init = (req.method_init ?? {}) as Record<string, unknown>;
  if (typeof init !== "object" || Array.isArray(init)) throw badParameter("method_init must be an object");
  for (const f of ["initial_join_secret", "previous_join_state"])
    if (init[f] !== undefined && (typeof init[f] !== "string" || (init[f] as string).length > 8192))
      throw badParameter(`method_init.${f} must be a string of at most 8192 characters`);
  return init as BoundKeypairInit;
}

async function begin(ctx: JoinContext, req: JoinRequest): Promise<JoinResponse> {
  const name = req.client_init.token_name;
  const found = await loadToken(ctx, name);
  const t = found.token;
  await validateBotTokenForJoin(ctx, t);
  const init = initOf(req);
  const c = classify(ctx, t);
  // No policy here: limits and join state are checked once the bound key has answered.
  const spec = specOf(t);
  const base = {
    case: c,
    revision: found.revision,
    rotate: needsRotation(ctx, t) || c === "registration",
    rotated: false,
    ...(init.previous_join_state ? { joinState: init.previous_join_state } : {}),
  };
  if (c === "registration") {
    const deadline = spec.onboarding.must_register_before;
    if (deadline && Date.parse(deadline) < ctx.now())
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
  const now = nowS(ctx);
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

function joinStateFor(
  ctx: JoinContext,
  t: TokenResource,
  bot: string,
  instanceId: string,
  sequence: number,
): Promise<string> {
  const spec = specOf(t);
  const claims: JoinStateClaims = {
    iss: ctx.clusterName,
    aud: ctx.clusterName,
    sub: bot,
    iat: nowS(ctx),
    nbf: nowS(ctx),
    bot_instance_id: instanceId,
    recovery_sequence: sequence,
    recovery_limit: spec.recovery.limit,
    recovery_mode: spec.recovery.mode,
  };
  return ctx.signJoinState(claims as unknown as Record<string, unknown>);
}

/** After the proof: the policy, then one compare-and-swap of the token's status. */
async function finalize(ctx: JoinContext, req: JoinRequest, s: StepState): Promise<JoinResponse> {
  const name = req.client_init.token_name;
  const found = await loadToken(ctx, name);
  if (found.revision !== s.revision)
    throw new UserError("the token changed while this join was in progress; join again", "compare_failed");
  const t = found.token;
  const bot = await validateBotTokenForJoin(ctx, t);
  const st = statusOf(t);
  const common = {
    bot,
    tokenHint: name,
    joinMethod: BOUND_KEYPAIR,
    publicKeys: req.bot_params.public_keys,
    expires: new Date(req.bot_params.expires),
  };
  if (!s.rotated && (await isLostResponse(ctx, t, s.case, s.joinState))) {
    const instanceId = st.bound_bot_instance_id!;
    const sequence = st.recovery_count ?? 0;
    return ctx.finishBotJoin({
      ...common,
      instanceId,
      isNewInstance: true,
      again: true,
      methodResult: {
        join_state: await joinStateFor(ctx, t, bot.metadata.name, instanceId, sequence),
        public_key: st.bound_public_key!,
      },
    });
  }
  const policy = await checkPolicy(ctx, name, t, s.case, s.joinState);
  const now = new Date(ctx.now()).toISOString();
  const newInstance = s.case !== "refresh";
  const instanceId = newInstance ? ctx.newInstanceId() : ctx.caller!.botInstanceId!;
  const next: BoundKeypairStatus = { ...st, bound_public_key: s.key!, bound_bot_instance_id: instanceId };
  next.recovery_count = policy.count;
  if (consumesRecovery(s.case)) {
    next.recovery_count = policy.count + 1;
    next.last_recovered_at = now;
    next.joined_from = policy.from;
  }
  if (s.rotated) next.last_rotated_at = now;
  if (s.case === "registration") delete next.registration_secret;
  const commit = async () => {
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
  };
  return ctx.finishBotJoin({
    ...common,
    instanceId,
    isNewInstance: newInstance,
    commit,
    ...(newInstance
      ? {}
      : {
          onGenerationMismatch: () =>
            joinStateFailure(
              ctx,
              name,
              `the refreshing certificate of generation ${ctx.caller!.generation} is not the instance's newest; the bot's state may have been copied`,
            ),
        }),
    methodResult: {
      join_state: await joinStateFor(ctx, t, bot.metadata.name, instanceId, next.recovery_count ?? 0),
      public_key: s.key!,
    },
  });
}

/** What every step passes on to the next. */
const carried = (s: StepState) => ({
  case: s.case,
  revision: s.revision,
  ...(s.joinState ? { joinState: s.joinState } : {}),
});

async function step(ctx: JoinContext, req: JoinRequest, s: StepState): Promise<JoinResponse> {
  const sol = req.solution as BoundKeypairSolution | undefined;
  if (s.phase === "rotation") {
    if (sol?.type !== "bound_keypair_rotation_response" || typeof sol.public_key !== "string")
      throw badParameter("expected a bound_keypair_rotation_response with the new public key");
    const problem = authorizedKeyProblem(sol.public_key);
    if (problem) throw badParameter(`the new bound public key is not usable: ${problem}`);
    if (s.key && samePublicKey(s.key, sol.public_key))
      throw badParameter("the new bound key must differ from the old one");
    return challengeFor(ctx, sol.public_key.trim(), { ...carried(s), rotate: s.rotate, rotated: true });
  }
  await verifySolution(ctx, s, sol!);
  if (s.rotate && !s.rotated)
    return rotationRequest(ctx, { ...carried(s), rotate: true, rotated: false, key: s.key });
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
