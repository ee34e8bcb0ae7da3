// What the TPM has: persistent objects and NV indices (TPM2_GetCapability, TPM_CAP_HANDLES)
// and fixed properties (TPM_CAP_TPM_PROPERTIES). Asking first, rather than trying a handle and
// catching TPM_RC_HANDLE, keeps "absent" a plain answer instead of an error path.

import { TpmReader } from "../structures/wire.ts";
import type { Esys } from "./esys.ts";

const TPM_CAP_HANDLES = 0x00000001;
const TPM_CAP_TPM_PROPERTIES = 0x00000006;

/** TPM2_PT_NV_BUFFER_MAX: the most bytes one TPM2_NV_Read may return. */
export const PT_NV_BUFFER_MAX = 0x0000012c;

/** Whether a persistent object or NV index exists at `handle`. */
export function handleExists(esys: Esys, handle: number): boolean {
  // The TPM lists handles of the same type from `handle` upwards: the first one is it, or not.
  const { data } = esys.capability(TPM_CAP_HANDLES, handle, 1);
  const r = new TpmReader(data, "TPMS_CAPABILITY_DATA");
  r.u32("capability");
  const count = r.u32("count");
  return count > 0 && r.u32("handle") === handle;
}

/** A fixed TPM property (TPM2_PT_*), or undefined when the TPM does not report it. */
export function tpmProperty(esys: Esys, property: number): number | undefined {
  const { data } = esys.capability(TPM_CAP_TPM_PROPERTIES, property, 1);
  const r = new TpmReader(data, "TPMS_CAPABILITY_DATA");
  r.u32("capability");
  const count = r.u32("count");
  for (let i = 0; i < count; i++) {
    const p = r.u32("property");
    const value = r.u32("value");
    if (p === property) return value;
  }
  return undefined;
}
