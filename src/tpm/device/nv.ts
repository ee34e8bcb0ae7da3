// Reading an NV index whole. One TPM2_NV_Read returns at most TPM2_PT_NV_BUFFER_MAX bytes
// (1024 on swtpm, often less on hardware), and EK certificates can be larger, so read in chunks.

import { EsysTr } from "../../../ffi/esys-constants.ts";
import { TpmReader } from "../structures/wire.ts";
import { PT_NV_BUFFER_MAX, tpmProperty } from "./capabilities.ts";
import type { Esys } from "./esys.ts";
import { nvRead, nvReadPublic } from "./esys-nv.ts";

/** The smallest NV buffer the spec allows; used when the TPM does not report its own. */
const fallbackChunk = 512;

const TPMA_NV_OWNERREAD = 1 << 17;
const TPMA_NV_AUTHREAD = 1 << 18;

/** From a TPM2B_NV_PUBLIC: the data size and the TPMA_NV attributes. */
function nvPublicFields(nvPublic: Uint8Array): { size: number; attributes: number } {
  const r = new TpmReader(nvPublic, "TPM2B_NV_PUBLIC");
  r.u16("size");
  r.u32("nvIndex");
  r.u16("nameAlg");
  const attributes = r.u32("attributes");
  r.tpm2b("authPolicy");
  return { size: r.u16("dataSize"), attributes };
}

/** All data of NV index `index` (e.g. 0x01c00002), `chunk` bytes per read (default: the TPM's maximum). */
export function readNvIndex(esys: Esys, index: number, chunk?: number): Uint8Array {
  const step = chunk ?? tpmProperty(esys, PT_NV_BUFFER_MAX) ?? fallbackChunk;
  const doing = `reading NV index 0x${index.toString(16).padStart(8, "0")}`;
  const handle = esys.lookUp(index, doing);
  try {
    const { size, attributes } = nvPublicFields(nvReadPublic(esys, handle, doing));
    // Read with the index's own (empty) auth when it allows that, else as the owner, whose auth
    // is empty on a machine that has not taken ownership (go-attestation reads as the owner).
    const auth =
      attributes & TPMA_NV_AUTHREAD || !(attributes & TPMA_NV_OWNERREAD) ? handle : EsysTr.RH_OWNER;
    const out = new Uint8Array(size);
    for (let at = 0; at < size; at += step)
      out.set(nvRead(esys, auth, handle, Math.min(step, size - at), at, doing), at);
    return out;
  } finally {
    esys.forget(handle);
  }
}
