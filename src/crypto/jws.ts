// Compact JWS (RFC 7515) for bound-keypair joining: the bot signs the server's challenge
// (with @noble/curves: deterministic, pure, audited) and the server signs join-state
// documents; verification uses WebCrypto (native). Algorithms: EdDSA (Ed25519), ES256
// (ECDSA P-256, r||s), RS256 (server-side verification only).

import { createPrivateKey } from "node:crypto";
import { ed25519 } from "@noble/curves/ed25519.js";
import { p256 } from "@noble/curves/nist.js";
import { webCryptoBytes } from "./bytes.ts";

export type JwsAlg = "EdDSA" | "ES256" | "RS256";

export const b64url = (data: Uint8Array | string): string =>
  Buffer.from(typeof data === "string" ? new TextEncoder().encode(data) : data).toString("base64url");
export const fromB64url = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "base64url"));

/** A private key ready for noble: algorithm and raw secret (Ed25519 seed or P-256 scalar). */
export interface NobleKey {
  alg: "EdDSA" | "ES256";
  secret: Uint8Array;
}

export function nobleKeyFromPem(pem: string): NobleKey {
  const ko = createPrivateKey(pem);
  const jwk = ko.export({ format: "jwk" }) as { d?: string; crv?: string };
  if (!jwk.d) throw new Error("not a private key");
  if (ko.asymmetricKeyType === "ed25519") return { alg: "EdDSA", secret: fromB64url(jwk.d) };
  if (ko.asymmetricKeyType === "ec" && jwk.crv === "P-256")
    return { alg: "ES256", secret: fromB64url(jwk.d) };
  throw new Error(`unsupported key type for signing challenges: ${ko.asymmetricKeyType} ${jwk.crv ?? ""}`);
}

/** Sign `payload` exactly as given (the challenge bytes as received). */
export function signJwsNoble(payload: string, key: NobleKey): string {
  const header = b64url(JSON.stringify({ alg: key.alg, typ: "JWT" }));
  const input = new TextEncoder().encode(`${header}.${b64url(payload)}`);
  const sig =
    key.alg === "EdDSA"
      ? ed25519.sign(input, key.secret)
      : p256.sign(input, key.secret, { prehash: true, format: "compact" });
  return `${header}.${b64url(payload)}.${b64url(sig)}`;
}

function verifyParams(key: CryptoKey): { alg: JwsAlg; params: Parameters<typeof crypto.subtle.verify>[0] } {
  const name = key.algorithm.name;
  if (name === "Ed25519") return { alg: "EdDSA", params: { name: "Ed25519" } };
  if (name === "ECDSA") return { alg: "ES256", params: { name: "ECDSA", hash: "SHA-256" } };
  if (name === "RSASSA-PKCS1-v1_5") return { alg: "RS256", params: { name: "RSASSA-PKCS1-v1_5" } };
  throw new Error(`unsupported verification key ${name}`);
}

export async function signJwsWebCrypto(
  payload: string,
  key: CryptoKey,
  header: Record<string, string> = {},
): Promise<string> {
  const { alg, params } = verifyParams(key);
  const h = b64url(JSON.stringify({ alg, typ: "JWT", ...header }));
  const input = `${h}.${b64url(payload)}`;
  const sig = await crypto.subtle.sign(params, key, new TextEncoder().encode(input));
  return `${input}.${b64url(new Uint8Array(sig))}`;
}

export class JwsError extends Error {}

/** Verify a compact JWS with `key`; returns the header and the payload text. Throws JwsError. */
export async function verifyJws(
  jws: string,
  key: CryptoKey,
): Promise<{ header: Record<string, unknown>; payload: string }> {
  if (typeof jws !== "string") throw new JwsError("solution is not a compact JWS");
  const parts = jws.split(".");
  if (parts.length !== 3)
    throw new JwsError("solution is not a compact JWS (expected header.payload.signature)");
  const [h, p, s] = parts as [string, string, string];
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(h, "base64url").toString("utf8"));
  } catch {
    throw new JwsError("JWS header is not base64url JSON");
  }
  const { alg, params } = verifyParams(key);
  if (header.alg !== alg) throw new JwsError(`JWS alg "${String(header.alg)}" does not match the ${alg} key`);
  let sig = fromB64url(s);
  if (alg === "ES256" && sig.length !== 64) throw new JwsError("ES256 signature must be 64 bytes (r||s)");
  const ok = await crypto.subtle.verify(
    params,
    key,
    webCryptoBytes(sig),
    new TextEncoder().encode(`${h}.${p}`),
  );
  sig = new Uint8Array();
  if (!ok) throw new JwsError("JWS signature does not verify with the expected key");
  return { header, payload: Buffer.from(p, "base64url").toString("utf8") };
}
