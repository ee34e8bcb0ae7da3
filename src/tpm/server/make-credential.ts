// TPM2_MakeCredential computed by the server (Part 1 §24, Part 3 §12.6): wrap a secret so that
// only the TPM holding the EK can recover it, and only for the AK with the given Name. This is
// what go-tpm's credactivation.Generate does, and the go-tpm vectors check it byte for byte.
//
//   seed          RSA EK: random, sent as RSA-OAEP(nameAlg, label "IDENTITY\0")
//                 ECC EK: KDFe(nameAlg, ECDH(ephemeral, EK).x, "IDENTITY", eph.x, EK.x), sent as eph
//   symKey        KDFa(nameAlg, seed, "STORAGE", akName, "", EK symmetric key bits)
//   encIdentity   AES-CFB(symKey, iv = 0, TPM2B(secret))
//   hmacKey       KDFa(nameAlg, seed, "INTEGRITY", "", "", nameAlg bits)
//   outerHMAC     HMAC(hmacKey, encIdentity || akName)
//   credentialBlob TPM2B(TPM2B(outerHMAC) || encIdentity)      (TPM2B_ID_OBJECT)
//   encryptedSecret TPM2B(OAEP ciphertext | TPMS_ECC_POINT)      (TPM2B_ENCRYPTED_SECRET)
//
// "nameAlg" and the symmetric key size are the EK's (the protecting key's), as the TPM computes
// them on ActivateCredential. go-tpm takes the hash from the AK Name and assumes AES-128; for
// the default EKs (SHA-256, AES-128) both agree.

import { createCipheriv, createHmac } from "node:crypto";
import { p256, p384, p521 } from "@noble/curves/nist.js";
import { concatBytes } from "../../crypto/bytes.ts";
import { badParameter, UserError } from "../../util/errors.ts";
import { Alg, algName, hashById, requireHash, type TpmHash } from "../structures/constants.ts";
import { parseTpmtPublic } from "../structures/public.ts";
import { type PkixPublicKey, padTo, parseSpki, pkixKeyOf } from "../structures/spki.ts";
import { TpmWriter, tpm2b } from "../structures/wire.ts";
import { kdfa, kdfe } from "./kdf.ts";
import { rsaOaepEncrypt } from "./rsa-oaep.ts";

/**
 * The EK as the client presented it: its TPMT_PUBLIC (exact parameters), or a PKIX key (from
 * an EK certificate or `ek_key`) whose nameAlg and symmetric key size are those of the TCG
 * EK Credential Profile template for that key type unless given.
 */
export type EkPublicInput =
  | { tpmtPublic: Uint8Array }
  | { spki: Uint8Array; nameAlg?: number; symmetricKeyBits?: number };

export interface MakeCredentialInput {
  ek: EkPublicInput;
  /** The AK's Name (nameAlg || digest, no size prefix): the TPM releases the secret only to it. */
  akName: Uint8Array;
  /** The challenge: at most the EK nameAlg's digest size (32 bytes for SHA-256). */
  secret: Uint8Array;
  /**
   * Randomness, crypto.getRandomValues by default; injectable for fixed vectors. Reads in
   * order: RSA — the seed (symmetric key size), then the OAEP seed (hash size); ECC — the
   * ephemeral private scalar (curve size, big-endian), read again while not a valid scalar.
   */
  randomBytes?: (length: number) => Uint8Array;
}

export interface EncryptedCredential {
  /** TPM2B_ID_OBJECT, including its 2-byte size prefix. */
  credentialBlob: Uint8Array;
  /** TPM2B_ENCRYPTED_SECRET, including its 2-byte size prefix. */
  encryptedSecret: Uint8Array;
}

/** How the EK protects a credential: its key, its nameAlg, its AES key size. */
interface EkProtection {
  key: PkixPublicKey;
  hash: TpmHash;
  symmetricKeyBits: number;
}

// TCG EK Credential Profile 2.3 templates: L-1/H-1 RSA 2048 and L-2/H-2 P-256 use SHA-256 and
// AES-128; H-3 P-384 SHA-384/AES-256; H-4 P-521 SHA-512/AES-256; H-6/H-7 RSA 3072/4096
// SHA-384/AES-256.
function profileOf(key: PkixPublicKey): { nameAlg: number; symmetricKeyBits: number } {
  if (key.type === "ecc") {
    if (key.curve.name === "P-384") return { nameAlg: Alg.SHA384, symmetricKeyBits: 256 };
    if (key.curve.name === "P-521") return { nameAlg: Alg.SHA512, symmetricKeyBits: 256 };
    return { nameAlg: Alg.SHA256, symmetricKeyBits: 128 };
  }
  return key.modulus.length > 256
    ? { nameAlg: Alg.SHA384, symmetricKeyBits: 256 }
    : { nameAlg: Alg.SHA256, symmetricKeyBits: 128 };
}

/** The EK's protection parameters; a bad EK is the client's error (bad_parameter). */
function ekProtection(ek: EkPublicInput): EkProtection {
  try {
    const p = readEkProtection(ek);
    // Bun's node:crypto has AES-128-CFB and AES-256-CFB, not AES-192; no EK template uses it.
    if (p.symmetricKeyBits !== 128 && p.symmetricKeyBits !== 256)
      throw new Error(`AES-${p.symmetricKeyBits} EKs are not supported (AES-128 or AES-256)`);
    return p;
  } catch (e) {
    throw e instanceof UserError
      ? e
      : badParameter(`the EK public key cannot be used: ${(e as Error).message}`);
  }
}

function readEkProtection(ek: EkPublicInput): EkProtection {
  if ("tpmtPublic" in ek) {
    const pub = parseTpmtPublic(ek.tpmtPublic, "EK TPMT_PUBLIC");
    const sym = pub.symmetric;
    if (!sym || sym.algorithm !== Alg.AES || sym.mode !== Alg.CFB)
      throw new Error(
        `the EK's symmetric algorithm must be AES in CFB mode (a storage key), not ${sym ? `${algName(sym.algorithm)}/${algName(sym.mode)}` : "NULL"}`,
      );
    return {
      key: pkixKeyOf(pub),
      hash: requireHash(pub.nameAlg, "nameAlg of the EK"),
      symmetricKeyBits: sym.keyBits,
    };
  }
  const key = parseSpki(ek.spki);
  const profile = profileOf(key);
  return {
    key,
    hash: requireHash(ek.nameAlg ?? profile.nameAlg, "nameAlg of the EK"),
    symmetricKeyBits: ek.symmetricKeyBits ?? profile.symmetricKeyBits,
  };
}

const defaultRandom = (n: number) => crypto.getRandomValues(new Uint8Array(n));
const IDENTITY_LABEL = "IDENTITY";

const curves = { "P-256": p256, "P-384": p384, "P-521": p521 } as const;

/** The seed and how it travels to the TPM. */
function protectSeed(
  p: EkProtection,
  random: (n: number) => Uint8Array,
): { seed: Uint8Array; encryptedSeed: Uint8Array } {
  if (p.key.type === "rsa") {
    // go-tpm's seed size (the AES key size); the TPM accepts any size that OAEP can carry.
    const seed = random(p.symmetricKeyBits / 8);
    const label = new TextEncoder().encode(`${IDENTITY_LABEL}\0`);
    const oaepSeed = random(p.hash.size);
    return { seed, encryptedSeed: rsaOaepEncrypt(p.key, p.hash, label, seed, oaepSeed) };
  }
  const { curve, x, y } = p.key;
  const ecdh = curves[curve.name];
  const ephemeral = ephemeralScalar(ecdh, curve.size, random);
  const ekPoint = concatBytes(Uint8Array.of(0x04), x, y);
  let z: Uint8Array;
  try {
    z = ecdh.getSharedSecret(ephemeral, ekPoint, true).subarray(1);
  } catch {
    throw badParameter(`the EK public key is not a valid ${curve.name} point`);
  }
  const ephPoint = ecdh.getPublicKey(ephemeral, false);
  const ephX = ephPoint.subarray(1, 1 + curve.size);
  const ephY = ephPoint.subarray(1 + curve.size);
  const seed = kdfe(p.hash, z, IDENTITY_LABEL, ephX, padTo(x, curve.size, "EK x"), p.hash.size * 8);
  return { seed, encryptedSeed: new TpmWriter().tpm2b(ephX).tpm2b(ephY).finish() };
}

function ephemeralScalar(
  ecdh: (typeof curves)[keyof typeof curves],
  size: number,
  random: (n: number) => Uint8Array,
): Uint8Array {
  for (let attempt = 0; attempt < 64; attempt++) {
    const candidate = Uint8Array.from(random(size));
    if (candidate.length !== size)
      throw new Error(`random source returned ${candidate.length} bytes, not ${size}`);
    if (size === 66) candidate[0]! &= 0x01; // P-521: 521 bits in 66 bytes
    if (ecdh.utils.isValidSecretKey(candidate)) return candidate;
  }
  throw new Error("random source gave no valid ECC private scalar in 64 attempts");
}

function aesCfbEncrypt(key: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const c = createCipheriv(`aes-${key.length * 8}-cfb`, key, new Uint8Array(16));
  return concatBytes(c.update(plaintext), c.final());
}

/** Wrap `secret` for the TPM that holds `ek`, bound to the AK named `akName`. */
export function makeCredential(input: MakeCredentialInput): EncryptedCredential {
  const p = ekProtection(input.ek);
  const akNameAlg = input.akName.length >= 2 ? (input.akName[0]! << 8) | input.akName[1]! : -1;
  const akHash = hashById(akNameAlg);
  if (!akHash || input.akName.length !== 2 + akHash.size)
    throw new Error("the AK name must be a nameAlg (SHA-1/256/384/512) followed by a digest of its size");
  if (input.secret.length === 0 || input.secret.length > p.hash.size)
    throw new Error(`the credential secret must be 1 to ${p.hash.size} bytes, not ${input.secret.length}`);

  const { seed, encryptedSeed } = protectSeed(p, input.randomBytes ?? defaultRandom);
  const empty = new Uint8Array(0);
  const symKey = kdfa(p.hash, seed, "STORAGE", input.akName, empty, p.symmetricKeyBits);
  const encIdentity = aesCfbEncrypt(symKey, tpm2b(input.secret));
  const hmacKey = kdfa(p.hash, seed, "INTEGRITY", empty, empty, p.hash.size * 8);
  const outerHmac = createHmac(p.hash.node, hmacKey).update(encIdentity).update(input.akName).digest();
  return {
    credentialBlob: tpm2b(concatBytes(tpm2b(outerHmac), encIdentity)),
    encryptedSecret: tpm2b(encryptedSeed),
  };
}
