// Compact JWS signatures with @noble/curves (pure, audited, deterministic: RFC 8032 EdDSA,
// RFC 6979 ECDSA). The agent answers a challenge for an ECDSA P-256 bound key with it; tests
// use it as a signer independent of WebCrypto. Kept apart from jws.ts so that tauth and the
// agent's Ed25519 path (WebCrypto, see signChallengeJws) never load it.

import { createPrivateKey } from "node:crypto";
import { ed25519 } from "@noble/curves/ed25519.js";
import { p256 } from "@noble/curves/nist.js";
import { b64url, fromB64url } from "./jws.ts";

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
