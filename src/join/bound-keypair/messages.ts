// Bound keypair joining (reference §5): the messages both halves exchange, in the shape of the
// reference's BoundKeypairInit / Challenge / RotationRequest / Solution / Result.

import { sshFingerprint } from "../../crypto/ssh/index.ts";

export const BOUND_KEYPAIR = "bound_keypair";
/** A challenge is valid for 60 seconds (reference §7.3). */
export const CHALLENGE_TTL_MS = 60_000;

export interface BoundKeypairInit {
  /** Registration secret for the first join, else empty. */
  initial_join_secret?: string;
  /** The join-state document from the previous join, else empty. */
  previous_join_state?: string;
}

export type BoundKeypairChallenge =
  /** Sign `challenge` (exact bytes) with the private half of `public_key`. */
  | { type: "bound_keypair_challenge"; public_key: string; challenge: string }
  /** Make a new key pair and answer with its public key. */
  | { type: "bound_keypair_rotation_request"; signature_algorithm_suite: string };

export type BoundKeypairSolution =
  | { type: "bound_keypair_challenge_solution"; solution: string }
  | { type: "bound_keypair_rotation_response"; public_key: string };

export interface BoundKeypairResult {
  join_state: string;
  /** The key now bound to the token (authorized_keys form). */
  public_key: string;
}

export interface ChallengeClaims {
  iss: string;
  aud: string;
  sub: string;
  iat: number;
  nbf: number;
  exp: number;
  nonce: string;
}

export interface JoinStateClaims {
  iss: string;
  aud: string;
  sub: string;
  iat: number;
  nbf: number;
  bot_instance_id: string;
  recovery_sequence: number;
  recovery_limit: number;
  recovery_mode: string;
}

/** The key ID a challenge names in `sub`: the SSH SHA-256 fingerprint of the public key. */
export function keyId(publicKeyLine: string): string {
  return sshFingerprint(publicKeyLine);
}

/** Compare public keys by type and key blob, ignoring comments and spacing. */
export function samePublicKey(a: string, b: string): boolean {
  const norm = (s: string) => s.trim().split(/\s+/).slice(0, 2).join(" ");
  return norm(a) === norm(b);
}
