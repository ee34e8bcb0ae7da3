// Is this a TPM-resident attestation key? (reference §6.5 step 4, go-attestation's
// CheckAKParameters.) The client sends the AK's public area, its creation data, and the AK's
// own signature over a TPM2_CertifyCreation attestation of both. We check that the key is
// strong, that its attributes make it a restricted signing key that never leaves the TPM, and
// that the attestation is about this key and this creation data and is signed by it. The
// credential activation that follows is what ties the AK to the EK; this only establishes
// that the Name we bind the credential to is a key the TPM will refuse to sign arbitrary data
// with.

import { constants, createPublicKey, type KeyObject, verify } from "node:crypto";
import { UserError } from "../../util/errors.ts";
import { parseTpmsAttest, type TpmAttest } from "../structures/attest.ts";
import {
  Alg,
  AttestType,
  algName,
  curveName,
  digest,
  hashById,
  nistCurveById,
  type ObjectAttrName,
  requireHash,
  TPM_GENERATED,
  type TpmHash,
} from "../structures/constants.ts";
import { parseTpmsCreationData } from "../structures/creation-data.ts";
import { hasAttribute, objectName, parseTpmtPublic, type TpmPublic } from "../structures/public.ts";
import { parseTpmtSignature, type TpmSignature } from "../structures/signature.ts";
import { padTo, tpmPublicToSpki } from "../structures/spki.ts";

/** The four blobs of the join's attestation_params, decoded from base64. */
export interface AkAttestationParams {
  /** TPMT_PUBLIC of the AK (no size prefix). */
  public: Uint8Array;
  /** TPMS_CREATION_DATA. */
  create_data: Uint8Array;
  /** TPMS_ATTEST from TPM2_CertifyCreation. */
  create_attestation: Uint8Array;
  /** TPMT_SIGNATURE by the AK over create_attestation. */
  create_signature: Uint8Array;
}

/** Which check refused the AK. */
export type AkCheck =
  | "parse"
  | "magic"
  | "attestation type"
  | "key"
  | "attributes"
  | "name"
  | "creation hash"
  | "signature";

export class AkCheckError extends UserError {
  readonly check: AkCheck;
  constructor(check: AkCheck, detail: string) {
    super(`TPM attestation key rejected (${check} check): ${detail}`, "access_denied");
    this.name = "AkCheckError";
    this.check = check;
  }
}

const MIN_RSA_BITS = 2048;
const requiredAttributes: ObjectAttrName[] = [
  "fixedTPM",
  "fixedParent",
  "sensitiveDataOrigin",
  "restricted",
  "sign",
];

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

function parseAll(p: AkAttestationParams): { pub: TpmPublic; attest: TpmAttest; sig: TpmSignature } {
  try {
    const pub = parseTpmtPublic(p.public, "AK public (TPMT_PUBLIC)");
    parseTpmsCreationData(p.create_data, "AK creation data (TPMS_CREATION_DATA)");
    const attest = parseTpmsAttest(p.create_attestation, "AK creation attestation (TPMS_ATTEST)");
    const sig = parseTpmtSignature(p.create_signature, "AK creation signature (TPMT_SIGNATURE)");
    return { pub, attest, sig };
  } catch (e) {
    throw new AkCheckError("parse", (e as Error).message);
  }
}

function checkKeyStrength(pub: TpmPublic): void {
  if (pub.type === "rsa") {
    const bits = Math.max(pub.keyBits, 0);
    if (bits < MIN_RSA_BITS || pub.modulus.length * 8 < MIN_RSA_BITS)
      throw new AkCheckError("key", `RSA key of ${bits} bits is too weak (at least ${MIN_RSA_BITS})`);
    return;
  }
  if (!nistCurveById(pub.curveId))
    throw new AkCheckError(
      "key",
      `insecure curve ${curveName(pub.curveId)} (P-256, P-384 or P-521 required)`,
    );
}

function checkAttributes(pub: TpmPublic): void {
  const missing = requiredAttributes.filter((a) => !hasAttribute(pub, a));
  if (missing.length > 0) throw new AkCheckError("attributes", `the AK lacks ${missing.join(", ")}`);
  if (hasAttribute(pub, "decrypt"))
    throw new AkCheckError("attributes", "the AK is a decryption key; an attestation key only signs");
}

/** The hash the signature used, after checking it agrees with the key's own scheme. */
function signatureHash(pub: TpmPublic, sig: TpmSignature): TpmHash {
  const keyAlgs: number[] = pub.type === "rsa" ? [Alg.RSASSA, Alg.RSAPSS] : [Alg.ECDSA];
  if (!keyAlgs.includes(sig.sigAlg))
    throw new AkCheckError(
      "signature",
      `a ${algName(sig.sigAlg)} signature cannot come from a ${pub.type.toUpperCase()} key`,
    );
  if (
    pub.scheme.scheme !== Alg.NULL &&
    (pub.scheme.scheme !== sig.sigAlg || pub.scheme.hashAlg !== sig.hashAlg)
  )
    throw new AkCheckError(
      "signature",
      `signed with ${algName(sig.sigAlg)}/${algName(sig.hashAlg)} but the AK's scheme is ` +
        `${algName(pub.scheme.scheme)}/${algName(pub.scheme.hashAlg ?? Alg.NULL)}`,
    );
  // SHA-1 stays accepted, as go-attestation does: real AKs (both vector AKs) sign with it,
  // and what this signature proves is only that the AK signed its own creation ticket.
  const hash = hashById(sig.hashAlg);
  if (!hash) throw new AkCheckError("signature", `unsupported signature hash ${algName(sig.hashAlg)}`);
  return hash;
}

// node:crypto rather than WebCrypto: RSASSA-PSS must be checked with any salt length (TPMs
// differ: the digest size, or the maximum), which WebCrypto cannot express.
function verifySignature(pub: TpmPublic, sig: TpmSignature, signed: Uint8Array): boolean {
  const hash = signatureHash(pub, sig);
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(tpmPublicToSpki(pub)), format: "der", type: "spki" });
  } catch (e) {
    throw new AkCheckError("key", `the AK public key is not a valid key: ${(e as Error).message}`);
  }
  if (sig.sigAlg === Alg.ECDSA) {
    if (pub.type !== "ecc") return false;
    const size = nistCurveById(pub.curveId)!.size;
    let rs: Uint8Array;
    try {
      rs = new Uint8Array([...padTo(sig.r, size, "r"), ...padTo(sig.s, size, "s")]);
    } catch {
      return false; // r or s longer than the curve: no valid signature looks like that
    }
    return verify(hash.node, signed, { key, dsaEncoding: "ieee-p1363" }, rs);
  }
  const padding =
    sig.sigAlg === Alg.RSAPSS
      ? { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }
      : { padding: constants.RSA_PKCS1_PADDING };
  return verify(hash.node, signed, { key, ...padding }, sig.signature);
}

/**
 * Check an AK's attestation parameters; returns the AK's Name (nameAlg || digest), which the
 * credential challenge is bound to. Throws AkCheckError naming the failed check.
 */
export function checkAkParameters(p: AkAttestationParams): Uint8Array {
  const { pub, attest, sig } = parseAll(p);
  if (attest.magic !== TPM_GENERATED)
    throw new AkCheckError(
      "magic",
      `0x${attest.magic.toString(16)} is not TPM_GENERATED; the TPM did not produce it`,
    );
  if (attest.type !== AttestType.CREATION || !attest.creation)
    throw new AkCheckError("attestation type", `0x${attest.type.toString(16)} is not TPM_ST_ATTEST_CREATION`);
  checkKeyStrength(pub);
  checkAttributes(pub);

  let nameHash: TpmHash;
  try {
    nameHash = requireHash(pub.nameAlg, "nameAlg of the AK");
  } catch (e) {
    throw new AkCheckError("key", (e as Error).message);
  }
  const name = objectName(p.public);
  if (!sameBytes(attest.creation.objectName, name))
    throw new AkCheckError(
      "name",
      `the attestation certifies object ${hex(attest.creation.objectName)}, not this AK (${hex(name)})`,
    );
  if (!sameBytes(attest.creation.creationHash, digest(nameHash, p.create_data)))
    throw new AkCheckError(
      "creation hash",
      "the attested creation hash is not the hash of the creation data sent",
    );
  if (!verifySignature(pub, sig, p.create_attestation))
    throw new AkCheckError(
      "signature",
      "the signature over the creation attestation does not verify with the AK",
    );
  return name;
}
