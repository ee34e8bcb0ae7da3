// Key pairs for identities, made with WebCrypto (native in Bun). The "balanced-v1" suite of
// the reference: ECDSA P-256 for the bot's TLS+SSH key, Ed25519 for SSH CA and host keys.

import { createPrivateKey, createPublicKey, type webcrypto } from "node:crypto";
import { pemDecode, pemEncode } from "./pem.ts";

export type KeyAlgorithm = "ecdsa-p256" | "ed25519";

// The WebCrypto parameter types are those of node:crypto's webcrypto namespace, which is how
// Bun's types declare the global `crypto` (the DOM lib is not loaded).
const params: Record<KeyAlgorithm, webcrypto.EcKeyGenParams | webcrypto.Algorithm> = {
  "ecdsa-p256": { name: "ECDSA", namedCurve: "P-256" },
  ed25519: { name: "Ed25519" },
};

export function generateKeyPair(alg: KeyAlgorithm): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(params[alg], true, ["sign", "verify"]) as Promise<CryptoKeyPair>;
}

export function signingAlgorithm(key: CryptoKey): webcrypto.EcdsaParams | webcrypto.Algorithm {
  return key.algorithm.name === "ECDSA" ? { name: "ECDSA", hash: "SHA-256" } : { name: "Ed25519" };
}

export async function publicKeyPem(pub: CryptoKey): Promise<string> {
  return pemEncode("PUBLIC KEY", await crypto.subtle.exportKey("spki", pub));
}

export async function pkcs8Pem(priv: CryptoKey): Promise<string> {
  return pemEncode("PRIVATE KEY", await crypto.subtle.exportKey("pkcs8", priv));
}

/**
 * The private key as the reference writes it in `key`: SEC1 "EC PRIVATE KEY" for ECDSA
 * (what OpenSSH, curl and libpq read everywhere), PKCS#8 for Ed25519.
 */
export async function privateKeyPem(priv: CryptoKey): Promise<string> {
  const der = Buffer.from(await crypto.subtle.exportKey("pkcs8", priv));
  if (priv.algorithm.name === "ECDSA") {
    return createPrivateKey({ key: der, format: "der", type: "pkcs8" }).export({
      type: "sec1",
      format: "pem",
    }) as string;
  }
  return pemEncode("PRIVATE KEY", der);
}

/** Import a PEM private key (SEC1 or PKCS#8) as a WebCrypto signing key pair. */
export async function importPrivateKeyPem(pem: string): Promise<CryptoKeyPair> {
  const ko = createPrivateKey(pem);
  const pkcs8 = ko.export({ type: "pkcs8", format: "der" });
  const spki = createPublicKey(ko).export({ type: "spki", format: "der" });
  const alg: webcrypto.EcKeyImportParams | webcrypto.Algorithm =
    ko.asymmetricKeyType === "ec" ? { name: "ECDSA", namedCurve: "P-256" } : { name: "Ed25519" };
  if (ko.asymmetricKeyType !== "ec" && ko.asymmetricKeyType !== "ed25519")
    throw new Error(`unsupported private key type ${ko.asymmetricKeyType}`);
  return {
    privateKey: await crypto.subtle.importKey("pkcs8", pkcs8, alg, true, ["sign"]),
    publicKey: await crypto.subtle.importKey("spki", spki, alg, true, ["verify"]),
  };
}

/**
 * The last few keys imported, by PEM: a renewal imports the same key twice (its inputs are
 * checked before anything is recorded, then the issuer signs for it). CryptoKeys are
 * immutable, so sharing one is safe; failures are not kept.
 */
const recentImports = new Map<string, Promise<CryptoKey>>();
const RECENT_IMPORTS = 64;

/** Import an SPKI PEM public key (as sent in join and certificate requests). */
export function importPublicKeyPem(pem: string): Promise<CryptoKey> {
  const hit = recentImports.get(pem);
  if (hit) return hit;
  const p = importPublicKeyPemOnce(pem);
  recentImports.set(pem, p);
  if (recentImports.size > RECENT_IMPORTS) recentImports.delete(recentImports.keys().next().value!);
  p.catch(() => recentImports.delete(pem));
  return p;
}

async function importPublicKeyPemOnce(pem: string): Promise<CryptoKey> {
  const ko = createPublicKey(pem);
  const spki = pemDecode(pem, "PUBLIC KEY");
  if (ko.asymmetricKeyType === "ec") {
    const curve = (ko.asymmetricKeyDetails as { namedCurve?: string })?.namedCurve;
    if (curve !== "prime256v1" && curve !== "P-256") throw new Error(`unsupported EC curve ${curve}`);
    return crypto.subtle.importKey("spki", spki, { name: "ECDSA", namedCurve: "P-256" }, true, ["verify"]);
  }
  if (ko.asymmetricKeyType === "ed25519")
    return crypto.subtle.importKey("spki", spki, { name: "Ed25519" }, true, ["verify"]);
  if (ko.asymmetricKeyType === "rsa")
    return crypto.subtle.importKey("spki", spki, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, true, [
      "verify",
    ]);
  throw new Error(`unsupported public key type ${ko.asymmetricKeyType}`);
}
