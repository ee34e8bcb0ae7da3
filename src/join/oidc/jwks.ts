// JSON Web Key Sets as this library accepts them, and the choice of key for a token.
// Only public signature keys are kept (RSA, EC P-256/P-384/P-521, Ed25519): a symmetric
// ("oct") key or one carrying private parts is dropped, so no HMAC secret can ever be
// derived from the set. A key is used only for the algorithm family its type belongs to, and
// only for the exact algorithm it names when it names one: this is what stops key confusion
// (an RSA public key used as an HMAC secret, or an EC key offered to an RS256 token).

import type { JWK } from "jose";
import { badParameter } from "../../util/errors.ts";
import { shown } from "./shown.ts";

/** Asymmetric JWS algorithms; the default pin is all of them. */
export const ASYMMETRIC_ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
  "Ed25519",
] as const;

/** Most keys a set may hold; real issuers publish a handful (rotation keeps two or three). */
export const MAX_KEYS = 64;

const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/** Key type (and curve) an algorithm must be verified with. */
function requiredKeyShape(alg: string): { kty: string; crv?: string } | undefined {
  if (/^(RS|PS)(256|384|512)$/.test(alg)) return { kty: "RSA" };
  if (alg === "ES256") return { kty: "EC", crv: "P-256" };
  if (alg === "ES384") return { kty: "EC", crv: "P-384" };
  if (alg === "ES512") return { kty: "EC", crv: "P-521" };
  if (alg === "EdDSA" || alg === "Ed25519") return { kty: "OKP", crv: "Ed25519" };
  return undefined;
}

/**
 * Parse a JWKS document (text or already-parsed JSON) into its usable public signing keys.
 * `where` names the source in messages ("static_jwks", or the jwks_uri).
 */
export function parseJwks(input: unknown, where: string): JWK[] {
  let doc = input;
  if (typeof input === "string") {
    try {
      doc = JSON.parse(input);
    } catch {
      throw badParameter(`${where}: the JWKS is not valid JSON`);
    }
  }
  const keys = (doc as { keys?: unknown } | null)?.keys;
  if (typeof doc !== "object" || doc === null || !Array.isArray(keys))
    throw badParameter(`${where}: the JWKS must be a JSON object with a "keys" array`);
  if (keys.length > MAX_KEYS)
    throw badParameter(`${where}: the JWKS has ${keys.length} keys, more than the ${MAX_KEYS} accepted`);
  const usable: JWK[] = [];
  for (const k of keys) {
    if (typeof k !== "object" || k === null || Array.isArray(k)) continue;
    const jwk = k as JWK;
    if (jwk.kty !== "RSA" && jwk.kty !== "EC" && jwk.kty !== "OKP") continue;
    if (PRIVATE_MEMBERS.some((m) => m in jwk)) continue;
    if (jwk.use !== undefined && jwk.use !== "sig") continue;
    if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes("verify")))
      continue;
    if (jwk.kid !== undefined && typeof jwk.kid !== "string") continue;
    usable.push(jwk);
  }
  return usable;
}

/** Whether a key may verify a token signed with `alg`: type, curve and its own `alg` agree. */
export function keyFitsAlgorithm(jwk: JWK, alg: string): boolean {
  const shape = requiredKeyShape(alg);
  if (!shape || jwk.kty !== shape.kty) return false;
  if (shape.crv !== undefined && jwk.crv !== shape.crv) return false;
  // A key that names an algorithm is bound to it ("EdDSA" and "Ed25519" name the same thing).
  if (jwk.alg !== undefined) {
    const same = jwk.alg === alg || (isEd(jwk.alg) && isEd(alg));
    if (!same) return false;
  }
  return true;
}

function isEd(alg: string): boolean {
  return alg === "EdDSA" || alg === "Ed25519";
}

/** Keys that may verify a token with this header: by `kid` when it has one, else every fitting key. */
export function candidateKeys(keys: readonly JWK[], alg: string, kid: string | undefined): JWK[] {
  return keys.filter((k) => (kid === undefined || k.kid === kid) && keyFitsAlgorithm(k, alg));
}

/** A key with the token's kid exists but is of another type or algorithm than the header says. */
export function describeUnfitKey(keys: readonly JWK[], alg: string, kid: string): string | undefined {
  const k = keys.find((x) => x.kid === kid);
  if (!k) return undefined;
  const has = [`kty ${k.kty}`, k.crv ? `crv ${k.crv}` : "", k.alg ? `alg ${k.alg}` : ""].filter(Boolean);
  return `ID token "alg" ${shown(alg)} does not fit the issuer's key ${shown(kid)} (${has.join(", ")})`;
}

/** Asymmetric algorithm names a caller may pin; anything else (none, HS*) is a configuration error. */
export function checkPinnedAlgorithms(algorithms: readonly string[]): void {
  if (algorithms.length === 0) throw badParameter("the pinned algorithm list is empty");
  for (const a of algorithms)
    if (!requiredKeyShape(a))
      throw badParameter(
        `algorithm ${shown(a)} cannot be pinned: only asymmetric JWS algorithms are allowed`,
      );
}
