// Bound keypair joining, client half (reference §5.2–5.8): answer the server's challenge by
// signing it with whichever of our keys it names (current or from the key history), make a
// new key when asked to rotate — saved to the history *before* the public key is sent, so an
// interrupted rotation completes on the next join — and keep the join state for next time.

import { signChallengeJws } from "../../crypto/jws.ts";
import { generateKeyPair, pkcs8Pem } from "../../crypto/keys.ts";
import { sshPublicKeyLine } from "../../crypto/ssh/index.ts";
import type { JoinResult } from "../../protocol/messages.ts";
import { UserError } from "../../util/errors.ts";
import { faultInjection } from "../../util/fault.ts";
import type { JoinMethodClient } from "../client.ts";
import {
  BOUND_KEYPAIR,
  type BoundKeypairChallenge,
  type BoundKeypairInit,
  type BoundKeypairResult,
  type BoundKeypairSolution,
  samePublicKey,
} from "./messages.ts";

export interface BoundKey {
  privateKeyPem: string;
  publicKey: string;
}

/** Where the client keeps its keys and state (the bot's storage; see src/agent/identity). */
export interface BoundKeypairState {
  current?: BoundKey;
  history: (BoundKey & { time: string })[];
  joinState?: string;
}

export interface BoundKeypairStore {
  load(): Promise<BoundKeypairState>;
  save(state: BoundKeypairState): Promise<void>;
}

export const MAX_KEY_HISTORY = 10;

export async function newBoundKey(): Promise<BoundKey> {
  const pair = await generateKeyPair("ed25519");
  return {
    privateKeyPem: await pkcs8Pem(pair.privateKey),
    publicKey: await sshPublicKeyLine(pair.publicKey),
  };
}

export function withHistory(state: BoundKeypairState, key: BoundKey): BoundKeypairState {
  const history = [
    ...state.history.filter((h) => !samePublicKey(h.publicKey, key.publicKey)),
    { ...key, time: new Date().toISOString() },
  ];
  return { ...state, history: history.slice(-MAX_KEY_HISTORY) };
}

export interface BoundKeypairClientOptions {
  store: BoundKeypairStore;
  registrationSecret?: string;
  /** A static key (insecure recovery mode): never rotated, never stored. */
  staticKey?: BoundKey;
}

export function boundKeypairClient(opts: BoundKeypairClientOptions): JoinMethodClient {
  let state: BoundKeypairState | null = null;
  const load = async () => {
    state ??= await opts.store.load();
    return state;
  };
  const keys = (s: BoundKeypairState): BoundKey[] =>
    [opts.staticKey, s.current, ...[...s.history].reverse()].filter((k): k is BoundKey => !!k);

  return {
    method: BOUND_KEYPAIR,
    async init() {
      const s = await load();
      const init: BoundKeypairInit = {};
      if (s.joinState) init.previous_join_state = s.joinState;
      // The secret matters only while no key is bound, which is also the case again after the
      // server's database is restored from a backup made before this bot registered: sent
      // every time, so that bot registers again by itself (the server reads it only then).
      if (opts.registrationSecret) init.initial_join_secret = opts.registrationSecret;
      return { ...init };
    },
    async solve(raw) {
      const ch = raw as unknown as BoundKeypairChallenge;
      const s = await load();
      if (ch.type === "bound_keypair_challenge") {
        const key = keys(s).find((k) => samePublicKey(k.publicKey, ch.public_key));
        if (!key)
          throw new UserError(
            `the cluster asks for a signature by ${ch.public_key.split(" ").slice(0, 2).join(" ").slice(0, 60)}…, a key this bot does not hold; an administrator must bind a new key or registration secret to the token`,
            "access_denied",
          );
        const sol: BoundKeypairSolution = {
          type: "bound_keypair_challenge_solution",
          solution: await signChallengeJws(ch.challenge, key.privateKeyPem),
        };
        return { ...sol };
      }
      if (ch.type === "bound_keypair_rotation_request") {
        if (opts.staticKey)
          throw new UserError(
            "the cluster asks to rotate a static bound key, which cannot rotate; clear rotate_after on the token",
            "bad_parameter",
          );
        const key = await newBoundKey();
        state = withHistory(s, key);
        await opts.store.save(state);
        faultInjection("after-rotation-key-saved");
        const sol: BoundKeypairSolution = {
          type: "bound_keypair_rotation_response",
          public_key: key.publicKey,
        };
        return { ...sol };
      }
      throw new UserError(`unexpected challenge type "${(ch as { type: string }).type}" from the cluster`);
    },
    async finish(result: JoinResult) {
      const r = result.method_result as unknown as BoundKeypairResult | undefined;
      if (!r?.join_state || !r.public_key)
        throw new UserError("the cluster's bound keypair result is incomplete");
      const s = await load();
      if (opts.staticKey) {
        state = { ...s, joinState: r.join_state };
      } else {
        const bound = keys(s).find((k) => samePublicKey(k.publicKey, r.public_key));
        if (!bound) throw new UserError("the cluster bound a key this bot does not hold");
        state = { ...withHistory(s, bound), current: bound, joinState: r.join_state };
      }
      await opts.store.save(state);
    },
  };
}
