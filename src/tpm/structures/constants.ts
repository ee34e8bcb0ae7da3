// Numbers from TPM 2.0 Library Part 2 (Structures) that the server side reads and writes.
// Only what we use is named; anything else is shown in hex by `algName`.

import { createHash } from "node:crypto";

/** TPM_ALG_ID (Part 2 §6.3). */
export const Alg = {
  ERROR: 0x0000,
  RSA: 0x0001,
  SHA1: 0x0004,
  HMAC: 0x0005,
  AES: 0x0006,
  MGF1: 0x0007,
  KEYEDHASH: 0x0008,
  XOR: 0x000a,
  SHA256: 0x000b,
  SHA384: 0x000c,
  SHA512: 0x000d,
  NULL: 0x0010,
  SM3_256: 0x0012,
  SM4: 0x0013,
  RSASSA: 0x0014,
  RSAES: 0x0015,
  RSAPSS: 0x0016,
  OAEP: 0x0017,
  ECDSA: 0x0018,
  ECDH: 0x0019,
  ECDAA: 0x001a,
  SM2: 0x001b,
  ECSCHNORR: 0x001c,
  ECMQV: 0x001d,
  KDF1_SP800_56A: 0x0020,
  KDF2: 0x0021,
  KDF1_SP800_108: 0x0022,
  ECC: 0x0023,
  SYMCIPHER: 0x0025,
  CAMELLIA: 0x0026,
  CTR: 0x0040,
  OFB: 0x0041,
  CBC: 0x0042,
  CFB: 0x0043,
  ECB: 0x0044,
} as const;

const algNames = new Map<number, string>(Object.entries(Alg).map(([name, id]) => [id, name]));

/** "SHA256", or "0x1234" for an algorithm we do not name. */
export const algName = (id: number): string => algNames.get(id) ?? `0x${id.toString(16).padStart(4, "0")}`;

/** TPM_ECC_CURVE (Part 2 §6.4). */
export const EccCurve = {
  NIST_P192: 0x0001,
  NIST_P224: 0x0002,
  NIST_P256: 0x0003,
  NIST_P384: 0x0004,
  NIST_P521: 0x0005,
  BN_P256: 0x0010,
  BN_P638: 0x0011,
  SM2_P256: 0x0020,
} as const;

/** The curves we can turn into PKIX keys and use with WebCrypto / ECDH. */
export interface NistCurve {
  id: number;
  /** WebCrypto namedCurve. */
  name: "P-256" | "P-384" | "P-521";
  /** PKIX namedCurve OID (RFC 5480). */
  oid: string;
  /** Field element size in bytes: coordinates and ECDSA r, s are padded to it. */
  size: number;
}

export const nistCurves: readonly NistCurve[] = [
  { id: EccCurve.NIST_P256, name: "P-256", oid: "1.2.840.10045.3.1.7", size: 32 },
  { id: EccCurve.NIST_P384, name: "P-384", oid: "1.3.132.0.34", size: 48 },
  { id: EccCurve.NIST_P521, name: "P-521", oid: "1.3.132.0.35", size: 66 },
];

export const nistCurveById = (id: number): NistCurve | undefined => nistCurves.find((c) => c.id === id);

const curveNames = new Map<number, string>(Object.entries(EccCurve).map(([name, id]) => [id, name]));
export const curveName = (id: number): string =>
  curveNames.get(id) ?? `0x${id.toString(16).padStart(4, "0")}`;

/** TPMA_OBJECT bits (Part 2 §8.3). */
export const ObjectAttr = {
  fixedTPM: 1 << 1,
  stClear: 1 << 2,
  fixedParent: 1 << 4,
  sensitiveDataOrigin: 1 << 5,
  userWithAuth: 1 << 6,
  adminWithPolicy: 1 << 7,
  noDA: 1 << 10,
  encryptedDuplication: 1 << 11,
  restricted: 1 << 16,
  decrypt: 1 << 17,
  sign: 1 << 18,
  x509sign: 1 << 19,
} as const;

export type ObjectAttrName = keyof typeof ObjectAttr;

/** The names of the attribute bits set in `attributes`, in bit order. */
export function objectAttrNames(attributes: number): ObjectAttrName[] {
  return (Object.entries(ObjectAttr) as [ObjectAttrName, number][])
    .filter(([, bit]) => (attributes & bit) !== 0)
    .map(([name]) => name);
}

/** TPM_ST values of attestation structures (Part 2 §6.9). */
export const AttestType = {
  NV: 0x8014,
  COMMAND_AUDIT: 0x8015,
  SESSION_AUDIT: 0x8016,
  CERTIFY: 0x8017,
  QUOTE: 0x8018,
  TIME: 0x8019,
  CREATION: 0x801a,
  NV_DIGEST: 0x801c,
} as const;

/** TPM_GENERATED_VALUE: the TPM puts it first in every structure it signs (Part 2 §6.2). */
export const TPM_GENERATED = 0xff544347;

/** Hash algorithms a nameAlg or a signature may use, with what node:crypto and WebCrypto call them. */
export interface TpmHash {
  id: number;
  /** node:crypto name. */
  node: "sha1" | "sha256" | "sha384" | "sha512";
  /** WebCrypto name. */
  webCrypto: "SHA-1" | "SHA-256" | "SHA-384" | "SHA-512";
  size: number;
}

const hashes: readonly TpmHash[] = [
  { id: Alg.SHA1, node: "sha1", webCrypto: "SHA-1", size: 20 },
  { id: Alg.SHA256, node: "sha256", webCrypto: "SHA-256", size: 32 },
  { id: Alg.SHA384, node: "sha384", webCrypto: "SHA-384", size: 48 },
  { id: Alg.SHA512, node: "sha512", webCrypto: "SHA-512", size: 64 },
];

export const hashById = (id: number): TpmHash | undefined => hashes.find((h) => h.id === id);

/** The hash `id`, or an error naming `role` ("nameAlg of the EK") when we do not implement it. */
export function requireHash(id: number, role: string): TpmHash {
  const h = hashById(id);
  if (!h) throw new Error(`unsupported hash algorithm ${algName(id)} as ${role}`);
  return h;
}

export function digest(hash: TpmHash, ...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const h = createHash(hash.node);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}
