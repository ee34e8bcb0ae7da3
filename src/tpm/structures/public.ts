// TPMT_PUBLIC (Part 2 §12.2.4): the public area of an RSA or ECC key, as TPM2_Create,
// TPM2_CreatePrimary and TPM2_ReadPublic return it. Parsing keeps every field, so that
// encodeTpmtPublic(parseTpmtPublic(b)) gives back b; an object's Name hashes the exact bytes.

import { Alg, algName, digest, ObjectAttr, type ObjectAttrName, requireHash } from "./constants.ts";
import { TpmReader, TpmWireError, TpmWriter } from "./wire.ts";

/** TPMT_SYM_DEF_OBJECT other than TPM_ALG_NULL (e.g. AES, 128, CFB for the default EKs). */
export interface SymmetricDef {
  algorithm: number;
  keyBits: number;
  mode: number;
}

/**
 * A signing, decryption or KDF scheme: TPM_ALG_NULL alone, or a scheme with its hash
 * (and ECDAA's commit count).
 */
export interface SchemeDef {
  scheme: number;
  hashAlg?: number;
  count?: number;
}

interface TpmPublicFields {
  nameAlg: number;
  /** TPMA_OBJECT bits; see ObjectAttr. */
  objectAttributes: number;
  authPolicy: Uint8Array;
  /** null when TPM_ALG_NULL (signing keys have no symmetric algorithm). */
  symmetric: SymmetricDef | null;
  scheme: SchemeDef;
}

export interface RsaTpmPublic extends TpmPublicFields {
  type: "rsa";
  keyBits: number;
  /** As sent: 0 means the default, 65537 (see rsaExponent). */
  exponent: number;
  modulus: Uint8Array;
}

export interface EccTpmPublic extends TpmPublicFields {
  type: "ecc";
  curveId: number;
  kdf: SchemeDef;
  x: Uint8Array;
  y: Uint8Array;
}

export type TpmPublic = RsaTpmPublic | EccTpmPublic;

/** The RSA public exponent, with the TPM's 0 = 65537 convention applied. */
export const rsaExponent = (pub: RsaTpmPublic): number => (pub.exponent === 0 ? 65537 : pub.exponent);

export const hasAttribute = (pub: TpmPublic, name: ObjectAttrName): boolean =>
  (pub.objectAttributes & ObjectAttr[name]) !== 0;

// The schemes each union may hold (Part 2 §11.2.3–11.2.5). Details are a hash, except RSAES
// (none) and ECDAA (a hash and a commit count); NULL has none.
const rsaSchemes = new Set<number>([Alg.RSASSA, Alg.RSAPSS, Alg.OAEP, Alg.RSAES]);
const eccSchemes = new Set<number>([Alg.ECDSA, Alg.ECDH, Alg.ECDAA, Alg.SM2, Alg.ECSCHNORR, Alg.ECMQV]);
const kdfSchemes = new Set<number>([Alg.MGF1, Alg.KDF1_SP800_56A, Alg.KDF2, Alg.KDF1_SP800_108]);

function readSymmetric(r: TpmReader): SymmetricDef | null {
  const algorithm = r.u16("symmetric.algorithm");
  if (algorithm === Alg.NULL) return null;
  return { algorithm, keyBits: r.u16("symmetric.keyBits"), mode: r.u16("symmetric.mode") };
}

function readScheme(r: TpmReader, field: string, allowed: ReadonlySet<number>): SchemeDef {
  const scheme = r.u16(`${field}.scheme`);
  if (scheme === Alg.NULL) return { scheme };
  if (!allowed.has(scheme)) throw new TpmWireError(`${r.what}: unsupported ${field} ${algName(scheme)}`);
  if (scheme === Alg.RSAES) return { scheme };
  const hashAlg = r.u16(`${field}.hashAlg`);
  return scheme === Alg.ECDAA ? { scheme, hashAlg, count: r.u16(`${field}.count`) } : { scheme, hashAlg };
}

/** Read one TPMT_PUBLIC at the reader's position. */
export function readTpmtPublic(r: TpmReader): TpmPublic {
  const type = r.u16("type");
  const nameAlg = r.u16("nameAlg");
  const objectAttributes = r.u32("objectAttributes");
  const authPolicy = r.tpm2b("authPolicy", 64);
  if (type !== Alg.RSA && type !== Alg.ECC)
    throw new TpmWireError(`${r.what}: key type ${algName(type)} is not supported (RSA or ECC expected)`);
  const symmetric = readSymmetric(r);
  const scheme = readScheme(r, "scheme", type === Alg.RSA ? rsaSchemes : eccSchemes);
  const fields = { nameAlg, objectAttributes, authPolicy, symmetric, scheme };
  if (type === Alg.RSA) {
    const keyBits = r.u16("keyBits");
    const exponent = r.u32("exponent");
    const modulus = r.tpm2b("unique.rsa", 512);
    return { type: "rsa", ...fields, keyBits, exponent, modulus };
  }
  const curveId = r.u16("curveID");
  const kdf = readScheme(r, "kdf", kdfSchemes);
  const x = r.tpm2b("unique.ecc.x", 128);
  const y = r.tpm2b("unique.ecc.y", 128);
  return { type: "ecc", ...fields, curveId, kdf, x, y };
}

/** Parse a TPMT_PUBLIC (no size prefix) that must fill `bytes` exactly. */
export function parseTpmtPublic(bytes: Uint8Array, what = "TPMT_PUBLIC"): TpmPublic {
  const r = new TpmReader(bytes, what);
  const pub = readTpmtPublic(r);
  r.end();
  return pub;
}

/** Parse a TPM2B_PUBLIC (uint16 size, then TPMT_PUBLIC). */
export function parseTpm2bPublic(bytes: Uint8Array, what = "TPM2B_PUBLIC"): TpmPublic {
  const r = new TpmReader(bytes, what);
  const size = r.u16("size");
  if (size !== r.remaining) throw new TpmWireError(`${what}: size ${size} but ${r.remaining} bytes follow`);
  return parseTpmtPublic(bytes.subarray(2), what);
}

function writeScheme(w: TpmWriter, s: SchemeDef): void {
  w.u16(s.scheme);
  if (s.hashAlg !== undefined) w.u16(s.hashAlg);
  if (s.count !== undefined) w.u16(s.count);
}

/** The TPMT_PUBLIC wire encoding of `pub` (no size prefix). */
export function encodeTpmtPublic(pub: TpmPublic): Uint8Array<ArrayBuffer> {
  const w = new TpmWriter()
    .u16(pub.type === "rsa" ? Alg.RSA : Alg.ECC)
    .u16(pub.nameAlg)
    .u32(pub.objectAttributes)
    .tpm2b(pub.authPolicy);
  if (pub.symmetric) w.u16(pub.symmetric.algorithm).u16(pub.symmetric.keyBits).u16(pub.symmetric.mode);
  else w.u16(Alg.NULL);
  writeScheme(w, pub.scheme);
  if (pub.type === "rsa") return w.u16(pub.keyBits).u32(pub.exponent).tpm2b(pub.modulus).finish();
  w.u16(pub.curveId);
  writeScheme(w, pub.kdf);
  return w.tpm2b(pub.x).tpm2b(pub.y).finish();
}

/** TPM2B_PUBLIC: the TPMT_PUBLIC with its uint16 size prefix. */
export function encodeTpm2bPublic(pub: TpmPublic): Uint8Array<ArrayBuffer> {
  return new TpmWriter().tpm2b(encodeTpmtPublic(pub)).finish();
}

/**
 * An object's Name (Part 1 §16): nameAlg (2 bytes) || H_nameAlg(TPMT_PUBLIC). Computed over
 * the bytes as given, never a re-encoding, so it matches what the TPM computed.
 */
export function objectName(tpmtPublic: Uint8Array): Uint8Array<ArrayBuffer> {
  if (tpmtPublic.length < 4) throw new TpmWireError("TPMT_PUBLIC is truncated: no nameAlg");
  const nameAlg = (tpmtPublic[2]! << 8) | tpmtPublic[3]!;
  const hash = requireHash(nameAlg, "nameAlg of the key");
  const out = new Uint8Array(2 + hash.size);
  out.set(tpmtPublic.subarray(2, 4), 0);
  out.set(digest(hash, tpmtPublic), 2);
  return out;
}
