// Moving structures between JavaScript and ESAPI. The C layout of a TPM structure is not its
// wire layout (padding; TPM2B sizes in host byte order), so anything non-trivial crosses as TPM
// wire bytes through libtss2-mu: Unmarshal into a zeroed C struct for inputs, Marshal from
// ESAPI's output pointer for outputs. Only the flat TPM2B_{DATA,DIGEST,…} are built by hand.

import { type Pointer, read, toArrayBuffer } from "bun:ffi";
import type { MuMarshal, MuUnmarshal, Tss2 } from "./tss2.ts";

/**
 * sizeof() of the C structs we hand to ESAPI (tpm2-tss 3.x; the same on every 64-bit Linux
 * target, as these structs hold no pointers). Measured with a C probe on x86_64, tss 3.2.1.
 */
export const sizeOf = {
  TPM2B_PUBLIC: 616,
  TPM2B_PRIVATE: 1552,
  TPM2B_SENSITIVE_CREATE: 326,
  TPM2B_DATA: 66,
  TPM2B_DIGEST: 66,
  TPML_PCR_SELECTION: 132,
  TPM2B_ID_OBJECT: 134,
  TPM2B_ENCRYPTED_SECRET: 514,
  /** {UINT16 algorithm; UINT16 keyBits; UINT16 mode}. */
  TPMT_SYM_DEF: 6,
  /** {UINT16 scheme; union {UINT16 hashAlg; UINT16 count} details}. */
  TPMT_SIG_SCHEME: 6,
} as const;

/**
 * Every C-struct buffer we allocate is this much larger than sizeOf says: should a later
 * tpm2-tss grow a struct, ESAPI and MU then read or write spare zeroes, never past our buffer.
 */
const slack = 512;

/** A failing TSS2_RC from a named function; the device layer decides what it means. */
export class Tss2Error extends Error {
  constructor(
    readonly fn: string,
    readonly rc: number,
    decoded: string,
  ) {
    super(`${fn} failed: 0x${rc.toString(16).padStart(8, "0")} (${decoded})`);
    this.name = "Tss2Error";
  }
}

export function check(tss: Tss2, fn: string, rc: number): void {
  if (rc === 0) return;
  const code = rc >>> 0;
  throw new Tss2Error(fn, code, tss.rc.Tss2_RC_Decode(code) ?? "unknown");
}

/** A slot for a `T**` output parameter. */
export const outPointer = (): BigUint64Array => new BigUint64Array(1);

/** The pointer an output slot received (0 when ESAPI left it empty). */
export const pointerIn = (slot: BigUint64Array): Pointer => Number(slot[0]) as Pointer;

/** An `ESYS_TR*` output parameter. */
export const outHandle = (): Uint32Array => new Uint32Array(1);

/** A zeroed C struct: for TPM2B_SENSITIVE_CREATE, TPM2B_DATA and TPML_PCR_SELECTION it means "empty". */
export const zeroed = (size: number): Uint8Array => new Uint8Array(size + slack);

/** A flat TPM2B ({UINT16 size; BYTE buffer[]}) in C layout: size in host (little) endian. */
export function flatTpm2b(bytes: Uint8Array, size: number): Uint8Array {
  if (bytes.length + 2 > size) throw new RangeError(`TPM2B of ${bytes.length} bytes exceeds ${size - 2}`);
  const out = zeroed(size);
  new DataView(out.buffer).setUint16(0, bytes.length, true);
  out.set(bytes, 2);
  return out;
}

/** Three UINT16 in host order: TPMT_SYM_DEF, TPMT_SIG_SCHEME and the like. */
export function u16Struct(...values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  const dv = new DataView(out.buffer);
  for (const [i, v] of values.entries()) dv.setUint16(i * 2, v, true);
  return out;
}

/** A copy of the buffer of a flat TPM2B at `p` (not freed). */
export function readFlatTpm2b(p: Pointer): Uint8Array {
  if (!p) throw new Error("ESAPI returned no TPM2B");
  const size = read.u16(p, 0);
  return size === 0 ? new Uint8Array(0) : new Uint8Array(toArrayBuffer(p, 2, size)).slice();
}

/** Copy the buffer of a flat TPM2B that ESAPI allocated, then free it. */
export function takeFlatTpm2b(tss: Tss2, p: Pointer): Uint8Array {
  try {
    return readFlatTpm2b(p);
  } finally {
    if (p) tss.esys.Esys_Free(p);
  }
}

/** TPM wire bytes of a struct ESAPI allocated (marshalled by `fn`), then free it. */
export function takeMarshalled(tss: Tss2, fn: MuMarshal, p: Pointer, maxBytes = 4096): Uint8Array {
  if (!p) throw new Error(`ESAPI returned nothing to marshal with ${fn}`);
  try {
    return marshalPointer(tss, fn, p, maxBytes);
  } finally {
    tss.esys.Esys_Free(p);
  }
}

/** TPM wire bytes of a C struct at `p` (not freed). */
export function marshalPointer(tss: Tss2, fn: MuMarshal, p: Pointer, maxBytes = 4096): Uint8Array {
  const buf = new Uint8Array(maxBytes);
  const offset = new BigUint64Array(1);
  check(tss, fn, tss.mu[fn](p, buf, maxBytes, offset));
  return buf.slice(0, Number(offset[0]));
}

/** A C struct of `size` bytes filled from TPM wire bytes; all of `wire` must be consumed. */
export function unmarshalInto(tss: Tss2, fn: MuUnmarshal, wire: Uint8Array, size: number): Uint8Array {
  const dest = zeroed(size);
  const offset = new BigUint64Array(1);
  check(tss, fn, tss.mu[fn](wire, wire.length, offset, dest));
  if (Number(offset[0]) !== wire.length)
    throw new RangeError(`${fn}: ${wire.length - Number(offset[0])} bytes after the structure`);
  return dest;
}
