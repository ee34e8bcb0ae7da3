// One ESAPI context over one TCTI connection. The commands tbot runs are typed functions over
// it, grouped by purpose (esys-objects.ts, esys-nv.ts, esys-credential.ts); structures cross
// as TPM wire bytes (ffi/structs.ts). Handles are ESYS_TR numbers: the caller flushes what it
// loads and forgets what it only looked up, because without a resource manager (a simulator,
// /dev/tpm0) a leaked object keeps one of ~3 slots after the process is gone.

import type { Pointer } from "bun:ffi";
import { noSessions } from "../../../ffi/esys-constants.ts";
import { cString } from "../../../ffi/native-env.ts";
import {
  check,
  outHandle,
  outPointer,
  pointerIn,
  Tss2Error,
  takeFlatTpm2b,
  takeMarshalled,
} from "../../../ffi/structs.ts";
import type { Tss2 } from "../../../ffi/tss2.ts";
import { tss2Failure } from "./errors.ts";

export class Esys {
  private constructor(
    readonly tss: Tss2,
    readonly tcti: string,
    private ctx: Pointer,
    private readonly tctiSlot: BigUint64Array,
  ) {}

  /** Connect through `tcti` (never empty; see tcti.ts). */
  static open(tss: Tss2, tcti: string): Esys {
    const fail = (e: unknown) => (e instanceof Tss2Error ? tss2Failure(e, tcti, "opening the TPM") : e);
    const tctiSlot = outPointer();
    try {
      check(tss, "Tss2_TctiLdr_Initialize", tss.tctildr.Tss2_TctiLdr_Initialize(cString(tcti), tctiSlot));
    } catch (e) {
      throw fail(e);
    }
    const ctxSlot = outPointer();
    try {
      check(tss, "Esys_Initialize", tss.esys.Esys_Initialize(ctxSlot, pointerIn(tctiSlot), null));
    } catch (e) {
      tss.tctildr.Tss2_TctiLdr_Finalize(tctiSlot);
      throw fail(e);
    }
    // No TPM2_Startup: the kernel (or swtpm's startup-clear) has started the TPM already.
    return new Esys(tss, tcti, pointerIn(ctxSlot), tctiSlot);
  }

  get closed(): boolean {
    return !this.ctx;
  }

  close(): void {
    if (!this.ctx) return;
    this.tss.esys.Esys_Finalize(new BigUint64Array([BigInt(this.ctx)]));
    this.tss.tctildr.Tss2_TctiLdr_Finalize(this.tctiSlot);
    this.ctx = 0 as Pointer;
  }

  /**
   * Run one Esys_* function `fn` on this context; a failing TSS2_RC becomes a TpmError that
   * says what tbot was `doing`.
   */
  call(fn: string, doing: string, invoke: (lib: Tss2["esys"], ctx: Pointer) => number): void {
    if (!this.ctx) throw new Error("the TPM context is closed");
    try {
      check(this.tss, fn, invoke(this.tss.esys, this.ctx));
    } catch (e) {
      throw e instanceof Tss2Error ? tss2Failure(e, this.tcti, doing) : e;
    }
  }

  /** Give back memory ESAPI allocated (a no-op for a null pointer). */
  free(p: Pointer): void {
    if (p) this.tss.esys.Esys_Free(p);
  }

  /** TPMS_CAPABILITY_DATA wire bytes for one GetCapability page, and whether more follow. */
  capability(capability: number, property: number, count: number): { data: Uint8Array; more: boolean } {
    const more = new Uint8Array(1);
    const out = outPointer();
    this.call("Esys_GetCapability", "querying the TPM", (lib, ctx) =>
      lib.Esys_GetCapability(ctx, ...noSessions, capability, property, count, more, out),
    );
    const data = takeMarshalled(this.tss, "Tss2_MU_TPMS_CAPABILITY_DATA_Marshal", pointerIn(out));
    return { data, more: more[0] !== 0 };
  }

  /** Unload a transient object or session. */
  flush(handle: number): void {
    this.call("Esys_FlushContext", "flushing a TPM handle", (lib, ctx) => lib.Esys_FlushContext(ctx, handle));
  }

  /** An ESYS_TR for a persistent object or NV index (`tpmHandle` like 0x81010001). */
  lookUp(tpmHandle: number, doing: string): number {
    const handle = outHandle();
    this.call("Esys_TR_FromTPMPublic", doing, (lib, ctx) =>
      lib.Esys_TR_FromTPMPublic(ctx, tpmHandle, ...noSessions, handle),
    );
    return handle[0]!;
  }

  /** Forget an ESYS_TR from lookUp without touching the TPM (never flush a persistent object). */
  forget(handle: number): void {
    if (this.ctx) this.tss.esys.Esys_TR_Close(this.ctx, new Uint32Array([handle]));
  }

  /** TPM2B_PUBLIC wire bytes of a loaded or persistent object. */
  readPublic(handle: number, doing: string): Uint8Array {
    const [pub, name, qualifiedName] = [outPointer(), outPointer(), outPointer()];
    this.call("Esys_ReadPublic", doing, (lib, ctx) =>
      lib.Esys_ReadPublic(ctx, handle, ...noSessions, pub, name, qualifiedName),
    );
    this.free(pointerIn(name));
    this.free(pointerIn(qualifiedName));
    return takeMarshalled(this.tss, "Tss2_MU_TPM2B_PUBLIC_Marshal", pointerIn(pub));
  }

  /** The object's Name as ESAPI computed it (nameAlg || H(TPMT_PUBLIC)). */
  name(handle: number): Uint8Array {
    const out = outPointer();
    this.call("Esys_TR_GetName", "reading a key's name", (lib, ctx) => lib.Esys_TR_GetName(ctx, handle, out));
    return takeFlatTpm2b(this.tss, pointerIn(out));
  }
}
