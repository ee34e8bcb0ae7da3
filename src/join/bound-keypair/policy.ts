// Bound keypair policy (reference §5.5–5.6), applied only after the caller has proved the
// bound key: the recovery limit, the join-state document, and what to do when they disagree.
// Nothing here runs before the challenge is answered, so naming a token (names are not
// secret) or presenting some other bot's certificate can never lock it.
//
// Beyond the reference, two faults are told apart from theft:
// - a lost response: the bot joins again presenting the very join state its lost join
//   presented, and the instance that join made was never used: served again, no recovery used;
// - a restored backup: the bot presents a join state newer than the server's (a higher
//   recovery sequence, signed by this cluster): accepted, the counter moves forward, audited.

import type { BoundKeypairSpec, BoundKeypairStatus, TokenResource } from "../../resources/types.ts";
import { accessDenied } from "../../util/errors.ts";
import type { JoinContext } from "../types.ts";
import type { JoinStateClaims } from "./messages.ts";

/** Which row of the §5.6 table a join is. */
export type JoinCase = "initial_key" | "registration" | "refresh" | "recovery";

export function specOf(t: TokenResource): BoundKeypairSpec {
  const s = t.spec.bound_keypair;
  return {
    onboarding: s?.onboarding ?? {},
    recovery: { mode: s?.recovery?.mode ?? "standard", limit: s?.recovery?.limit ?? 1 },
    ...(s?.rotate_after ? { rotate_after: s.rotate_after } : {}),
  };
}

export const statusOf = (t: TokenResource): BoundKeypairStatus => t.status?.bound_keypair ?? {};

export const consumesRecovery = (c: JoinCase) => c !== "refresh";

/** The claims of a join state, or null if it does not verify or names another cluster or bot. */
async function claimsOf(ctx: JoinContext, t: TokenResource, jwt: string): Promise<JoinStateClaims | null> {
  try {
    const c = (await ctx.verifyJoinState(jwt)) as unknown as JoinStateClaims;
    const ours = c.iss === ctx.clusterName && c.aud === ctx.clusterName && c.sub === t.spec.bot_name;
    return ours && typeof c.recovery_sequence === "number" && typeof c.bot_instance_id === "string"
      ? c
      : null;
  } catch {
    return null;
  }
}

/** Whether this join is the last binding join again, whose response was lost (see above). */
export async function isLostResponse(
  ctx: JoinContext,
  t: TokenResource,
  c: JoinCase,
  joinState: string | undefined,
): Promise<boolean> {
  const st = statusOf(t);
  const from = st.joined_from;
  if (c !== "recovery" || !from || !st.bound_bot_instance_id) return false;
  if (!(await ctx.isUnusedInstance(t.spec.bot_name!, st.bound_bot_instance_id))) return false;
  if (!joinState) return from.bot_instance_id === undefined;
  const claims = await claimsOf(ctx, t, joinState);
  return (
    !!claims &&
    claims.bot_instance_id === from.bot_instance_id &&
    claims.recovery_sequence === from.recovery_sequence
  );
}

export interface PolicyOutcome {
  /** The recovery count this join builds on (moved forward after a restored backup). */
  count: number;
  /** The join state this join presented, as recorded in `joined_from`. */
  from: { bot_instance_id?: string; recovery_sequence?: number };
}

/** The limit (standard mode) and the join-state document (unless insecure), §5.5–5.6. */
export async function checkPolicy(
  ctx: JoinContext,
  name: string,
  t: TokenResource,
  c: JoinCase,
  joinState: string | undefined,
): Promise<PolicyOutcome> {
  const spec = specOf(t);
  const st = statusOf(t);
  let count = st.recovery_count ?? 0;
  const claims = joinState ? await claimsOf(ctx, t, joinState) : null;
  const from = claims
    ? { bot_instance_id: claims.bot_instance_id, recovery_sequence: claims.recovery_sequence }
    : {};
  const restored = !!claims && claims.recovery_sequence > count && !!st.bound_public_key;
  if (restored) {
    ctx.audit("backend_rollback_detected", {
      token: name,
      stored_recovery_count: count,
      presented_recovery_sequence: claims.recovery_sequence,
      remote_addr: ctx.remoteAddr,
    });
    count = claims.recovery_sequence;
  }
  if (consumesRecovery(c) && spec.recovery.mode === "standard" && count >= spec.recovery.limit)
    throw accessDenied(
      `bound keypair recovery limit reached (${count} of ${spec.recovery.limit} used); to allow another recovery, raise spec.bound_keypair.recovery.limit of token "${name}" with "tctl create -f"`,
    );
  const boundInstance = restored ? claims.bot_instance_id : st.bound_bot_instance_id;
  if (c === "refresh") {
    const caller = ctx.caller!;
    if (caller.botName !== t.spec.bot_name || caller.botInstanceId !== boundInstance)
      await joinStateFailure(
        ctx,
        name,
        `the refreshing bot instance ${caller.botInstanceId} is not the one bound to the token (${boundInstance}); the bot's state may have been copied`,
      );
  }
  // A join state vouches for the bound instance: there is none to check before a key is bound
  // (first registration, or after an administrator rebound the token with a new key or secret).
  if (spec.recovery.mode === "insecure" || count === 0 || !st.bound_public_key) return { count, from };
  if (!joinState)
    await joinStateFailure(
      ctx,
      name,
      "no join state was presented, but this token requires one (its key has been used before)",
    );
  if (!claims)
    await joinStateFailure(ctx, name, "join state does not verify or was issued for another cluster or bot");
  if (claims!.recovery_sequence !== count || claims!.bot_instance_id !== boundInstance)
    await joinStateFailure(
      ctx,
      name,
      `join state is stale (recovery sequence ${claims!.recovery_sequence}, expected ${count}); the bot's state may have been copied`,
    );
  return { count, from };
}

export async function joinStateFailure(ctx: JoinContext, name: string, reason: string): Promise<never> {
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
