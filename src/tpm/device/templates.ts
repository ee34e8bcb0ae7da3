// The key templates tbot asks the TPM for. The EK templates are the TCG defaults (EK Credential
// Profile 2.0, Annex B: L-1 RSA-2048, L-2 ECC P-256): creating a primary key from the same
// template under the endorsement hierarchy always yields the same key, the one the TPM
// vendor certified. The SRK and AK follow go-attestation, which the reference's tbot uses.

import { ObjectAttr as A, Alg, EccCurve } from "../structures/constants.ts";
import { encodeTpm2bPublic, type TpmPublic } from "../structures/public.ts";

/**
 * PolicyA: TPM2_PolicySecret(TPM_RH_ENDORSEMENT) with SHA-256. The EK can only be used through
 * a policy session that proves knowledge of the endorsement hierarchy's (empty) auth.
 */
export const ekPolicyA = Uint8Array.from(
  Buffer.from("837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa", "hex"),
);

const aes128cfb = { algorithm: Alg.AES, keyBits: 128, mode: Alg.CFB };
const noScheme = { scheme: Alg.NULL };

/** fixedTPM | fixedParent | sensitiveDataOrigin | adminWithPolicy | restricted | decrypt = 0x000300b2. */
const ekAttributes =
  A.fixedTPM | A.fixedParent | A.sensitiveDataOrigin | A.adminWithPolicy | A.restricted | A.decrypt;

/** Template L-1: RSA-2048, AES-128-CFB, unique = 256 zero bytes. */
export const rsaEkTemplate: TpmPublic = {
  type: "rsa",
  nameAlg: Alg.SHA256,
  objectAttributes: ekAttributes,
  authPolicy: ekPolicyA,
  symmetric: aes128cfb,
  scheme: noScheme,
  keyBits: 2048,
  exponent: 0,
  modulus: new Uint8Array(256),
};

/** Template L-2: ECC NIST P-256, AES-128-CFB, unique x and y = 32 zero bytes each. */
export const eccEkTemplate: TpmPublic = {
  type: "ecc",
  nameAlg: Alg.SHA256,
  objectAttributes: ekAttributes,
  authPolicy: ekPolicyA,
  symmetric: aes128cfb,
  scheme: noScheme,
  curveId: EccCurve.NIST_P256,
  kdf: noScheme,
  x: new Uint8Array(32),
  y: new Uint8Array(32),
};

/**
 * The storage root key (TCG Provisioning Guidance, RSA-2048): like the EK but usable with the
 * empty password (userWithAuth) and exempt from dictionary-attack counting (noDA).
 * 0x00030472.
 */
export const rsaSrkTemplate: TpmPublic = {
  ...rsaEkTemplate,
  objectAttributes:
    A.fixedTPM | A.fixedParent | A.sensitiveDataOrigin | A.userWithAuth | A.noDA | A.restricted | A.decrypt,
  authPolicy: new Uint8Array(0),
};

/**
 * The attestation key (reference §6.3; go-attestation's default): RSA-2048 restricted signing
 * key, RSASSA-SHA256. "restricted" makes the TPM refuse to sign data that looks like its own
 * attestation structures unless it produced them, which is what lets a verifier trust a
 * TPMS_ATTEST signed by this key. 0x00050472.
 */
export const rsaAkTemplate: TpmPublic = {
  type: "rsa",
  nameAlg: Alg.SHA256,
  objectAttributes:
    A.fixedTPM | A.fixedParent | A.sensitiveDataOrigin | A.userWithAuth | A.noDA | A.restricted | A.sign,
  authPolicy: new Uint8Array(0),
  symmetric: null,
  scheme: { scheme: Alg.RSASSA, hashAlg: Alg.SHA256 },
  keyBits: 2048,
  exponent: 0,
  modulus: new Uint8Array(0),
};

/** A template as the TPM2B_PUBLIC wire bytes ESAPI takes. */
export const templateWire = (t: TpmPublic): Uint8Array => encodeTpm2bPublic(t);
