// TPMS_ATTEST (Part 2 §10.12.12): what a TPM signs when it vouches for something. The server
// reads the creation attestation (TPM2_CertifyCreation) of an AK; other attestation types are
// kept as raw bytes.

import { AttestType } from "./constants.ts";
import { TpmReader } from "./wire.ts";

export interface ClockInfo {
  clock: bigint;
  resetCount: number;
  restartCount: number;
  safe: boolean;
}

/** TPMS_CREATION_INFO: the object certified and the digest of its creation data. */
export interface CreationInfo {
  objectName: Uint8Array;
  creationHash: Uint8Array;
}

export interface TpmAttest {
  /** TPM_GENERATED (0xff544347) when the TPM produced the structure itself. */
  magic: number;
  /** TPM_ST_ATTEST_* (see AttestType). */
  type: number;
  qualifiedSigner: Uint8Array;
  extraData: Uint8Array;
  clockInfo: ClockInfo;
  firmwareVersion: bigint;
  /** Set when type is TPM_ST_ATTEST_CREATION. */
  creation?: CreationInfo;
  /** The attested union as sent, for types other than creation. */
  attestedRaw?: Uint8Array;
}

/** Parse a TPMS_ATTEST that fills `bytes` exactly. */
export function parseTpmsAttest(bytes: Uint8Array, what = "TPMS_ATTEST"): TpmAttest {
  const r = new TpmReader(bytes, what);
  const magic = r.u32("magic");
  const type = r.u16("type");
  const qualifiedSigner = r.tpm2b("qualifiedSigner");
  const extraData = r.tpm2b("extraData");
  const clockInfo: ClockInfo = {
    clock: r.u64("clockInfo.clock"),
    resetCount: r.u32("clockInfo.resetCount"),
    restartCount: r.u32("clockInfo.restartCount"),
    safe: r.u8("clockInfo.safe") !== 0,
  };
  const firmwareVersion = r.u64("firmwareVersion");
  const head = { magic, type, qualifiedSigner, extraData, clockInfo, firmwareVersion };
  if (type !== AttestType.CREATION) return { ...head, attestedRaw: r.bytes(r.remaining, "attested") };
  const creation: CreationInfo = {
    objectName: r.tpm2b("creation.objectName"),
    creationHash: r.tpm2b("creation.creationHash"),
  };
  r.end();
  return { ...head, creation };
}
