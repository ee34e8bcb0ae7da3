// The TPM's key derivation functions (Part 1 §11.4.10): KDFa (SP 800-108 counter mode with
// HMAC) derives the credential's AES and HMAC keys from the seed; KDFe (SP 800-56A
// concatenation) turns an ECDH shared secret into the seed. Labels are ASCII and both add the
// one 0x00 that terminates the label.

import { createHmac } from "node:crypto";
import { digest, type TpmHash } from "../structures/constants.ts";

const u32 = (n: number) => Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
const labelBytes = (label: string) => new TextEncoder().encode(`${label}\0`);

function expand(bits: number, block: (counter: Uint8Array) => Uint8Array): Uint8Array<ArrayBuffer> {
  if (bits <= 0 || bits % 8 !== 0) throw new RangeError(`KDF output must be whole bytes, not ${bits} bits`);
  const out = new Uint8Array(bits / 8);
  for (let counter = 1, at = 0; at < out.length; counter++) {
    const b = block(u32(counter));
    out.set(b.subarray(0, out.length - at), at);
    at += b.length;
  }
  return out;
}

/** KDFa: blocks HMAC_hash(key, counter || label 0x00 || contextU || contextV || bits), truncated to bits. */
export function kdfa(
  hash: TpmHash,
  key: Uint8Array,
  label: string,
  contextU: Uint8Array,
  contextV: Uint8Array,
  bits: number,
): Uint8Array<ArrayBuffer> {
  const fixed = [labelBytes(label), contextU, contextV, u32(bits)];
  return expand(bits, (counter) => {
    const h = createHmac(hash.node, key).update(counter);
    for (const part of fixed) h.update(part);
    return h.digest();
  });
}

/** KDFe: blocks hash(counter || Z || label 0x00 || partyU || partyV), truncated to bits. */
export function kdfe(
  hash: TpmHash,
  z: Uint8Array,
  label: string,
  partyU: Uint8Array,
  partyV: Uint8Array,
  bits: number,
): Uint8Array<ArrayBuffer> {
  const lab = labelBytes(label);
  return expand(bits, (counter) => digest(hash, counter, z, lab, partyU, partyV));
}
