// SSH signatures: the blob string(algorithm) + string(body), made and checked with WebCrypto.
// Signing: Ed25519 and ECDSA. Verifying: also RSA (rsa-sha2-256/512), so that certificates
// from older RSA CAs can be checked.
import { toBase64Url, webCryptoBytes } from "../bytes.ts";
import { p1363ToSshSignature, sshSignatureToP1363 } from "./ecdsa.ts";
import { SshFormatError } from "./errors.ts";
import {
  curveOfKey,
  importEcOrEdVerifyKey,
  type PublicKeyFields,
  sshTypeOfWebCryptoKey,
} from "./public-key.ts";
import { SshReader, SshWriter } from "./wire.ts";

/** Sign `data` with an Ed25519 or ECDSA private key; returns the SSH signature blob. */
export async function signSshData(privateKey: CryptoKey, data: Uint8Array): Promise<Uint8Array> {
  if (privateKey.type !== "private") {
    throw new SshFormatError(`signing needs a private key, got a ${privateKey.type} key`);
  }
  const { type, curve } = sshTypeOfWebCryptoKey(privateKey);
  const params = curve ? { name: "ECDSA", hash: curve.hash } : { name: "Ed25519" };
  const raw = new Uint8Array(await crypto.subtle.sign(params, privateKey, webCryptoBytes(data)));
  const body = curve ? p1363ToSshSignature(raw, curve) : raw;
  return new SshWriter().string(type).string(body).finish();
}

const rsaHashes: Readonly<Record<string, "SHA-256" | "SHA-512">> = {
  "rsa-sha2-256": "SHA-256",
  "rsa-sha2-512": "SHA-512",
};

/**
 * Check an SSH signature blob over `data` by `key`. False for a wrong or malformed signature,
 * or one whose algorithm does not belong to the key; throws for key types or algorithms we
 * refuse to judge (so that "unsupported" is never mistaken for "forged").
 */
export async function verifySshSignature(
  key: PublicKeyFields,
  signature: Uint8Array,
  data: Uint8Array,
): Promise<boolean> {
  let algorithm: string;
  let body: Uint8Array;
  try {
    const r = new SshReader(signature, "signature");
    algorithm = r.text("signature algorithm");
    body = r.string("signature body");
    r.expectEnd();
  } catch (err) {
    if (err instanceof SshFormatError) return false;
    throw err;
  }
  if (key.type === "ssh-ed25519") {
    if (algorithm !== key.type || body.length !== 64) return false;
    return crypto.subtle.verify(
      { name: "Ed25519" },
      await importEcOrEdVerifyKey(key),
      webCryptoBytes(body),
      webCryptoBytes(data),
    );
  }

  const curve = curveOfKey(key);
  if (curve) {
    if (algorithm !== key.type) return false;
    let rs: Uint8Array;
    try {
      rs = sshSignatureToP1363(body, curve);
    } catch (err) {
      if (err instanceof SshFormatError) return false;
      throw err;
    }
    return crypto.subtle.verify(
      { name: "ECDSA", hash: curve.hash },
      await importEcOrEdVerifyKey(key),
      webCryptoBytes(rs),
      webCryptoBytes(data),
    );
  }

  if (key.type === "ssh-rsa") {
    if (algorithm === "ssh-rsa") {
      throw new SshFormatError(
        "signature uses ssh-rsa (RSA with SHA-1), which OpenSSH no longer accepts; re-sign with rsa-sha2-512",
      );
    }
    const hash = rsaHashes[algorithm];
    if (!hash) return false;
    const [e, n] = key.values as [Uint8Array, Uint8Array];
    return verifyRsa(e, n, hash, body, data);
  }

  throw new SshFormatError(`cannot verify signatures made by ${key.type} keys`);
}

async function verifyRsa(e: Uint8Array, n: Uint8Array, hash: string, body: Uint8Array, data: Uint8Array) {
  if (body.length > n.length) return false;
  // OpenSSH accepts a signature shorter than the modulus and left-pads it; WebCrypto does not.
  const padded = new Uint8Array(n.length);
  padded.set(body, n.length - body.length);
  const jwk = { kty: "RSA", n: toBase64Url(n), e: toBase64Url(e) };
  const pub = await crypto.subtle.importKey("jwk", jwk, { name: "RSASSA-PKCS1-v1_5", hash }, false, [
    "verify",
  ]);
  return crypto.subtle.verify({ name: "RSASSA-PKCS1-v1_5" }, pub, padded, webCryptoBytes(data));
}
