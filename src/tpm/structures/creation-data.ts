// TPMS_CREATION_DATA (Part 2 §15.1): the context an object was created in (PCRs, locality,
// parent). An AK's creation attestation signs its hash, so the server parses it to be sure it
// is well formed; its digest is taken over the bytes as sent.

import { TpmReader } from "./wire.ts";

export interface PcrSelection {
  hashAlg: number;
  /** Bitmap: bit i of byte j selects PCR 8j + i. */
  pcrSelect: Uint8Array;
}

export interface TpmCreationData {
  pcrSelect: PcrSelection[];
  pcrDigest: Uint8Array;
  locality: number;
  parentNameAlg: number;
  parentName: Uint8Array;
  parentQualifiedName: Uint8Array;
  outsideInfo: Uint8Array;
}

// TPM_NUM_PCR_BANKS in the reference implementation is 16; real TPMs have a handful.
const MAX_PCR_BANKS = 16;

/** Parse a TPMS_CREATION_DATA that fills `bytes` exactly. */
export function parseTpmsCreationData(bytes: Uint8Array, what = "TPMS_CREATION_DATA"): TpmCreationData {
  const r = new TpmReader(bytes, what);
  const count = r.u32("pcrSelect.count");
  if (count > MAX_PCR_BANKS) throw new Error(`${what}: ${count} PCR selections, at most ${MAX_PCR_BANKS}`);
  const pcrSelect: PcrSelection[] = [];
  for (let i = 0; i < count; i++) {
    const hashAlg = r.u16(`pcrSelect[${i}].hash`);
    const size = r.u8(`pcrSelect[${i}].sizeofSelect`);
    pcrSelect.push({ hashAlg, pcrSelect: r.bytes(size, `pcrSelect[${i}].pcrSelect`) });
  }
  const data: TpmCreationData = {
    pcrSelect,
    pcrDigest: r.tpm2b("pcrDigest"),
    locality: r.u8("locality"),
    parentNameAlg: r.u16("parentNameAlg"),
    parentName: r.tpm2b("parentName"),
    parentQualifiedName: r.tpm2b("parentQualifiedName"),
    outsideInfo: r.tpm2b("outsideInfo"),
  };
  r.end();
  return data;
}
