// TPM public areas as PKIX SubjectPublicKeyInfo (RFC 5280 §4.1.2.7), the form X.509, WebCrypto
// and the EK public hash (reference §6.2: SHA-256 over this DER) use — and back, for a client
// that sends its EK as a PKIX key. The encoding is what Go's x509.MarshalPKIXPublicKey writes:
// RSA with NULL parameters, ECC as a named curve with an uncompressed point.

import {
  bitString,
  children,
  contentOf,
  encodingOf,
  integer,
  oid,
  readTlv,
  sequence,
  Tag,
  tlv,
} from "../../crypto/der.ts";
import { curveName, type NistCurve, nistCurveById, nistCurves } from "./constants.ts";
import { rsaExponent, type TpmPublic } from "./public.ts";

const RSA_ENCRYPTION = "1.2.840.113549.1.1.1";
const EC_PUBLIC_KEY = "1.2.840.10045.2.1";

/** A public key as PKIX describes it: what a TPM public area reduces to outside the TPM. */
export type PkixPublicKey =
  | { type: "rsa"; modulus: Uint8Array; exponent: number }
  | { type: "ecc"; curve: NistCurve; x: Uint8Array; y: Uint8Array };

function stripLeadingZeros(b: Uint8Array): Uint8Array {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
}

/** Left-pad `b` (a big-endian number) to `size` bytes; an error if it does not fit. */
export function padTo(b: Uint8Array, size: number, what: string): Uint8Array<ArrayBuffer> {
  const m = stripLeadingZeros(b);
  if (m.length > size) throw new Error(`${what} is ${m.length} bytes, longer than ${size}`);
  const out = new Uint8Array(size);
  out.set(m, size - m.length);
  return out;
}

const u32Bytes = (n: number) => Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);

/** The key part of a TPM public area, ready for PKIX. ECC keys must be on P-256, P-384 or P-521. */
export function pkixKeyOf(pub: TpmPublic): PkixPublicKey {
  if (pub.type === "rsa") {
    if (pub.modulus.length === 0) throw new Error("TPM RSA public key has an empty modulus");
    return { type: "rsa", modulus: pub.modulus, exponent: rsaExponent(pub) };
  }
  const curve = nistCurveById(pub.curveId);
  if (!curve)
    throw new Error(`TPM ECC key on curve ${curveName(pub.curveId)} is not supported (P-256, P-384, P-521)`);
  return {
    type: "ecc",
    curve,
    x: padTo(pub.x, curve.size, "ECC point x"),
    y: padTo(pub.y, curve.size, "ECC point y"),
  };
}

/** PKIX SubjectPublicKeyInfo DER of a key. */
export function encodeSpki(key: PkixPublicKey): Uint8Array<ArrayBuffer> {
  if (key.type === "rsa") {
    const rsaPublicKey = sequence(integer(key.modulus), integer(u32Bytes(key.exponent)));
    return sequence(sequence(oid(RSA_ENCRYPTION), tlv(Tag.NULL, new Uint8Array(0))), bitString(rsaPublicKey));
  }
  const point = new Uint8Array(1 + 2 * key.curve.size);
  point[0] = 0x04; // uncompressed
  point.set(padTo(key.x, key.curve.size, "ECC point x"), 1);
  point.set(padTo(key.y, key.curve.size, "ECC point y"), 1 + key.curve.size);
  return sequence(sequence(oid(EC_PUBLIC_KEY), oid(key.curve.oid)), bitString(point));
}

/** PKIX SubjectPublicKeyInfo DER of a TPM public area. */
export const tpmPublicToSpki = (pub: TpmPublic): Uint8Array<ArrayBuffer> => encodeSpki(pkixKeyOf(pub));

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);

function unsignedInteger(
  buf: Uint8Array,
  node: ReturnType<typeof readTlv> | undefined,
  what: string,
): Uint8Array {
  if (!node || node.tag !== Tag.INTEGER || node.end === node.contentStart)
    throw new Error(`PKIX public key: bad ${what}`);
  const content = contentOf(buf, node);
  if ((content[0]! & 0x80) !== 0) throw new Error(`PKIX public key: negative ${what}`);
  return stripLeadingZeros(content).slice();
}

/** Read an RSA or NIST-curve EC key from SubjectPublicKeyInfo DER (the whole input). */
export function parseSpki(der: Uint8Array): PkixPublicKey {
  try {
    return readSpki(der);
  } catch (e) {
    const why = (e as Error).message;
    throw new Error(why.startsWith(NOT_SPKI) ? why : `${NOT_SPKI}: ${why}`);
  }
}

const NOT_SPKI = "not a PKIX public key (SubjectPublicKeyInfo DER)";

function readSpki(der: Uint8Array): PkixPublicKey {
  const fail = (why: string): never => {
    throw new Error(`${NOT_SPKI}: ${why}`);
  };
  const top = readTlv(der);
  if (top.tag !== Tag.SEQUENCE || top.end !== der.length) fail("expected one SEQUENCE");
  const [algId, keyBits] = children(der, top);
  if (algId?.tag !== Tag.SEQUENCE || keyBits?.tag !== Tag.BIT_STRING) fail("bad structure");
  const [algOid, params] = children(der, algId!);
  const bits = contentOf(der, keyBits!);
  if (bits[0] !== 0) fail("key BIT STRING has unused bits");
  const key = bits.subarray(1);
  if (algOid && sameBytes(encodingOf(der, algOid), oid(RSA_ENCRYPTION))) {
    const rsa = readTlv(key);
    if (rsa.tag !== Tag.SEQUENCE || rsa.end !== key.length) fail("bad RSAPublicKey");
    const [n, e] = children(key, rsa);
    const modulus = unsignedInteger(key, n, "RSA modulus");
    const exponentBytes = unsignedInteger(key, e, "RSA exponent");
    if (exponentBytes.length > 4) fail("RSA exponent larger than 32 bits");
    const exponent = exponentBytes.reduce((v, b) => v * 256 + b, 0);
    return { type: "rsa", modulus, exponent };
  }
  if (algOid && sameBytes(encodingOf(der, algOid), oid(EC_PUBLIC_KEY))) {
    const curve = params && nistCurves.find((c) => sameBytes(encodingOf(der, params), oid(c.oid)));
    if (!curve) return fail("EC key on a curve other than P-256, P-384 or P-521");
    if (key.length !== 1 + 2 * curve.size || key[0] !== 0x04) fail("EC point is not uncompressed");
    return { type: "ecc", curve, x: key.slice(1, 1 + curve.size), y: key.slice(1 + curve.size) };
  }
  return fail("algorithm is neither rsaEncryption nor id-ecPublicKey");
}
