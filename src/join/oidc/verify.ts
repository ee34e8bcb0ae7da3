// Verifying an OIDC ID token (github, gitlab, kubernetes join methods). jose does the JWS
// parsing and the signature; this module decides which algorithm and key may be used (before
// anything is fetched) and turns every failure into a one-line denial that names the claim,
// echoes at most a short quoted value, and never the token.

import {
  decodeJwt,
  decodeProtectedHeader,
  errors,
  importJWK,
  type JWK,
  type JWTPayload,
  jwtVerify,
} from "jose";
import { accessDenied, type UserError } from "../../util/errors.ts";
import { ASYMMETRIC_ALGORITHMS, candidateKeys, checkPinnedAlgorithms, describeUnfitKey } from "./jwks.ts";
import type { KeySource } from "./jwks-source.ts";
import { instant, shown, shownList } from "./shown.ts";

export type IdTokenClaims = JWTPayload & Record<string, unknown>;

export interface VerifyIdTokenOptions {
  /**
   * The issuer the token's `iss` must equal exactly. null only for a key set pinned to this one
   * token resource that names no issuer (kubernetes `static_jwks`): the pinned keys are the trust.
   */
  issuer: string | null;
  /** The token's `aud` (a string or an array) must contain one of these. */
  audience: string | readonly string[];
  keys: KeySource;
  /** The cluster clock, in milliseconds since the epoch. */
  now: () => number;
  /** Clock skew allowed on exp, nbf and iat. Default 60 s. */
  leewaySeconds?: number;
  /** Pinned algorithms, asymmetric only. Default ASYMMETRIC_ALGORITHMS. */
  algorithms?: readonly string[];
  /** Claims that must be present. Default ["exp"]: a token that never expires is refused. */
  requiredClaims?: readonly string[];
  /** Longest token accepted, in characters. Default 16 KiB. */
  maxTokenChars?: number;
}

export const DEFAULT_LEEWAY_SECONDS = 60;
export const DEFAULT_MAX_TOKEN_CHARS = 16 * 1024;
/** Keys tried for a token without a kid; issuers that omit kid publish one or two. */
const MAX_KEYS_TRIED = 8;

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** Verify an ID token and return its claims, or throw an access_denied UserError saying why. */
export async function verifyIdToken(jwt: string, opts: VerifyIdTokenOptions): Promise<IdTokenClaims> {
  const leeway = opts.leewaySeconds ?? DEFAULT_LEEWAY_SECONDS;
  const algorithms = opts.algorithms ?? ASYMMETRIC_ALGORITHMS;
  checkPinnedAlgorithms(algorithms);
  const maxChars = opts.maxTokenChars ?? DEFAULT_MAX_TOKEN_CHARS;

  // 1. Shape, header and issuer, all before any key is looked up (and so before any fetch).
  if (typeof jwt !== "string" || jwt.length === 0) throw accessDenied("no ID token was sent");
  if (jwt.length > maxChars)
    throw accessDenied(`ID token is ${jwt.length} characters, more than the ${maxChars} accepted`);
  if (!COMPACT_JWS.test(jwt))
    throw accessDenied("ID token is not a compact JWS (three base64url parts separated by dots)");
  let header: ReturnType<typeof decodeProtectedHeader>;
  let unverified: JWTPayload;
  try {
    header = decodeProtectedHeader(jwt);
    unverified = decodeJwt(jwt);
  } catch {
    throw accessDenied("ID token is malformed: its header or claims are not base64url JSON objects");
  }
  const alg = header.alg;
  if (typeof alg !== "string") throw accessDenied('ID token header has no "alg"');
  const allowed = `allowed: ${algorithms.join(", ")}`;
  if (alg.toLowerCase() === "none")
    throw accessDenied(`ID token "alg" "none" is refused: the token must be signed (${allowed})`);
  if (/^HS/i.test(alg))
    throw accessDenied(
      `ID token "alg" ${shown(alg)} is refused: symmetric algorithms cannot prove an issuer (${allowed})`,
    );
  if (!algorithms.includes(alg))
    throw accessDenied(`ID token "alg" ${shown(alg)} is not allowed (${allowed})`);
  const kid = header.kid;
  if (kid !== undefined && typeof kid !== "string")
    throw accessDenied('ID token header "kid" is not a string');
  if (opts.issuer !== null && unverified.iss !== opts.issuer)
    throw issuerMismatch(unverified.iss, opts.issuer);

  // 2. The key: by kid, of the type the algorithm needs; one refresh for an unknown kid.
  const source = opts.keys;
  let keys = await source.keys();
  let candidates = candidateKeys(keys, alg, kid);
  if (candidates.length === 0 && kid !== undefined) {
    const unfit = describeUnfitKey(keys, alg, kid);
    if (unfit) throw accessDenied(unfit);
    const refreshed = await source.refreshForUnknownKid();
    if (refreshed) {
      keys = refreshed;
      candidates = candidateKeys(keys, alg, kid);
      const unfitAfter = candidates.length === 0 ? describeUnfitKey(keys, alg, kid) : undefined;
      if (unfitAfter) throw accessDenied(unfitAfter);
    }
    if (candidates.length === 0)
      throw accessDenied(
        `ID token "kid" ${shown(kid)} is not in the key set of ${source.label}` +
          (refreshed
            ? " (fetched again just now)"
            : " (the set was fetched recently; not fetched again yet)"),
      );
  }
  if (candidates.length === 0)
    throw accessDenied(`ID token has no "kid" and no key of ${source.label} fits "alg" ${shown(alg)}`);

  // 3. Signature and registered claims (jose), with the cluster clock.
  const nowMs = opts.now();
  const verifyOptions = {
    algorithms: [alg],
    ...(opts.issuer !== null ? { issuer: opts.issuer } : {}),
    audience: typeof opts.audience === "string" ? opts.audience : [...opts.audience],
    currentDate: new Date(nowMs),
    clockTolerance: leeway,
    requiredClaims: [...(opts.requiredClaims ?? ["exp"])],
  };
  let claims: IdTokenClaims | undefined;
  let usableKeys = 0;
  for (const jwk of candidates.slice(0, MAX_KEYS_TRIED)) {
    let key: Awaited<ReturnType<typeof importJWK>>;
    try {
      key = await importKey(jwk, alg);
    } catch {
      continue; // a malformed key in the set; another may still verify
    }
    usableKeys++;
    try {
      claims = (await jwtVerify(jwt, key, verifyOptions)).payload as IdTokenClaims;
      break;
    } catch (e) {
      if (e instanceof errors.JWSSignatureVerificationFailed) continue;
      throw describeJoseError(e, opts, leeway, nowMs, unverified);
    }
  }
  if (!claims) {
    if (usableKeys === 0) throw accessDenied(`no usable key of ${source.label} for "alg" ${shown(alg)}`);
    const which = kid !== undefined ? `key ${shown(kid)}` : "any key";
    throw accessDenied(`ID token signature does not verify with ${which} of ${source.label}`);
  }

  // 4. iat in the future: jose checks it only together with a maximum age, which we do not set.
  const nowSec = Math.floor(nowMs / 1000);
  if (typeof claims.iat === "number" && claims.iat > nowSec + leeway)
    throw accessDenied(
      `ID token "iat" ${instant(claims.iat)} is in the future (cluster clock ${instant(nowSec)}, leeway ${leeway}s)`,
    );
  return claims;
}

// Imported keys, per JWK object and algorithm: a cached key set hands out the same JWK objects
// until it is fetched again, so each key is imported once rather than once per join, and the
// entries go with the set.
const imported = new WeakMap<JWK, Map<string, Awaited<ReturnType<typeof importJWK>>>>();

async function importKey(jwk: JWK, alg: string): Promise<Awaited<ReturnType<typeof importJWK>>> {
  let byAlg = imported.get(jwk);
  const hit = byAlg?.get(alg);
  if (hit) return hit;
  const key = await importJWK(jwk, alg);
  if (!byAlg) {
    byAlg = new Map();
    imported.set(jwk, byAlg);
  }
  byAlg.set(alg, key);
  return key;
}

function issuerMismatch(got: unknown, want: string): UserError {
  return accessDenied(`ID token "iss" ${shown(got)} does not match the expected issuer ${shown(want)}`);
}

function describeJoseError(
  e: unknown,
  opts: VerifyIdTokenOptions,
  leeway: number,
  nowMs: number,
  unverified: JWTPayload,
): UserError {
  const now = instant(Math.floor(nowMs / 1000));
  const clock = `cluster clock ${now}, leeway ${leeway}s`;
  if (e instanceof errors.JWTExpired && e.claim === "exp")
    return accessDenied(`ID token expired: "exp" ${instant(Number(e.payload.exp))} has passed (${clock})`);
  if (e instanceof errors.JWTClaimValidationFailed) {
    const claim = e.claim;
    const value = e.payload[claim];
    if (e.reason === "missing")
      return accessDenied(`ID token has no ${shown(claim)} claim, which is required`);
    if (e.reason === "invalid")
      return accessDenied(`ID token ${shown(claim)} claim is malformed: ${shown(value)}`);
    if (claim === "nbf")
      return accessDenied(`ID token is not yet valid: "nbf" ${instant(Number(value))} is ahead (${clock})`);
    if (claim === "aud") {
      const want = typeof opts.audience === "string" ? [opts.audience] : opts.audience;
      return accessDenied(
        `ID token "aud" ${shown(value)} does not include the expected audience ${shownList(want)}`,
      );
    }
    if (claim === "iss" && opts.issuer !== null) return issuerMismatch(unverified.iss, opts.issuer);
    return accessDenied(`ID token ${shown(claim)} claim failed its check (${shown(value)})`);
  }
  if (e instanceof errors.JOSEAlgNotAllowed) return accessDenied(`ID token "alg" is not allowed`);
  if (e instanceof errors.JOSEError) return accessDenied(`ID token is malformed: ${e.message}`);
  return accessDenied(`ID token cannot be verified: ${(e as Error)?.message ?? String(e)}`);
}
