// Compact JWS (RFC 7515) for bound-keypair joining: the bot signs the server's challenge
// (signChallengeJws: Ed25519 with WebCrypto, ECDSA P-256 with @noble/curves from jws-noble.ts,
// loaded only for such a key) and the server signs join-state documents; verification uses
// WebCrypto (native). Algorithms: EdDSA (Ed25519), ES256 (ECDSA P-256, r||s), RS256
// (server-side verification only).

import { createPrivateKey } from "node:crypto";
import { webCryptoBytes } from "./bytes.ts";

export type JwsAlg = "EdDSA" | "ES256" | "RS256";

export const b64url = (data: Uint8Array | string): string =>
  Buffer.from(typeof data === "string" ? new TextEncoder().encode(data) : data).toString("base64url");
export const fromB64url = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "base64url"));

/**
 * Answer a bound-keypair challenge: sign `payload` exactly as given (the challenge bytes as
 * received) with the private key in `privateKeyPem` (PKCS#8, or SEC1 for P-256). Ed25519 signs
 * with WebCrypto, native: RFC 8032 signatures are deterministic, so these are the very bytes
 * @noble/curves makes (test/unit/crypto/jws.test.ts), without its cold start (~70 ms in a
 * one-shot tbot). A P-256 key keeps noble's RFC 6979 deterministic ECDSA.
 */
export async function signChallengeJws(payload: string, privateKeyPem: string): Promise<string> {
  const ko = createPrivateKey(privateKeyPem);
  if (ko.asymmetricKeyType !== "ed25519") {
    const { nobleKeyFromPem, signJwsNoble } = await import("./jws-noble.ts");
    return signJwsNoble(payload, nobleKeyFromPem(privateKeyPem));
  }
  const pkcs8 = ko.export({ type: "pkcs8", format: "der" });
  let key: CryptoKey;
  try {
    key = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, false, ["sign"]);
  } finally {
    pkcs8.fill(0);
  }
  return signJwsWebCrypto(payload, key);
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
