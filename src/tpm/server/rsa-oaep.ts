// RSAES-OAEP encryption (RFC 8017 §7.1.1) with the random seed supplied by the caller.
// node:crypto and WebCrypto draw the OAEP seed themselves, which would make MakeCredential
// impossible to check against fixed vectors; this is the public-key operation only, where
// timing leaks nothing secret, so a BigInt modular power is enough.

import { digest, type TpmHash } from "../structures/constants.ts";

function mgf1(hash: TpmHash, seed: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let counter = 0, at = 0; at < length; counter++) {
    const c = Uint8Array.of(counter >>> 24, (counter >>> 16) & 0xff, (counter >>> 8) & 0xff, counter & 0xff);
    const block = digest(hash, seed, c);
    out.set(block.subarray(0, length - at), at);
    at += block.length;
  }
  return out;
}

const toBigInt = (b: Uint8Array): bigint =>
  b.length === 0 ? 0n : BigInt(`0x${Buffer.from(b).toString("hex")}`);

function toBytes(n: bigint, length: number): Uint8Array<ArrayBuffer> {
  const hex = n.toString(16).padStart(length * 2, "0");
  if (hex.length > length * 2) throw new RangeError("integer too large");
  return new Uint8Array(Buffer.from(hex, "hex"));
}

function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  let b = base % modulus;
  for (let e = exponent; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % modulus;
    b = (b * b) % modulus;
  }
  return result;
}

export interface RsaPublicNumbers {
  /** Big-endian, without leading zeros. */
  modulus: Uint8Array;
  exponent: number;
}

/** RSA-OAEP(hash, MGF1-hash, label) of `message`; `oaepSeed` must be hash.size random bytes. */
export function rsaOaepEncrypt(
  key: RsaPublicNumbers,
  hash: TpmHash,
  label: Uint8Array,
  message: Uint8Array,
  oaepSeed: Uint8Array,
): Uint8Array<ArrayBuffer> {
  const n = toBigInt(key.modulus);
  const k = Math.ceil(n.toString(16).length / 2);
  const hLen = hash.size;
  if (oaepSeed.length !== hLen) throw new RangeError(`OAEP seed must be ${hLen} bytes`);
  if (message.length > k - 2 * hLen - 2)
    throw new RangeError(
      `message of ${message.length} bytes is too long for RSA-OAEP with a ${k * 8}-bit key`,
    );
  const db = new Uint8Array(k - hLen - 1);
  db.set(digest(hash, label), 0);
  db[db.length - message.length - 1] = 0x01;
  db.set(message, db.length - message.length);
  const dbMask = mgf1(hash, oaepSeed, db.length);
  for (let i = 0; i < db.length; i++) db[i]! ^= dbMask[i]!;
  const seedMask = mgf1(hash, db, hLen);
  const maskedSeed = oaepSeed.map((b, i) => b ^ seedMask[i]!);
  const em = new Uint8Array(k);
  em.set(maskedSeed, 1);
  em.set(db, 1 + hLen);
  return toBytes(modPow(toBigInt(em), BigInt(key.exponent), n), k);
}
