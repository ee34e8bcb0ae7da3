// NV index access: TPM2_NV_ReadPublic (size and attributes) and TPM2_NV_Read.

import { noSessions, passwordSession } from "../../../ffi/esys-constants.ts";
import { outPointer, pointerIn, takeFlatTpm2b, takeMarshalled } from "../../../ffi/structs.ts";
import type { Esys } from "./esys.ts";

/** TPM2B_NV_PUBLIC wire bytes of an NV index (an ESYS_TR from esys.lookUp). */
export function nvReadPublic(esys: Esys, nvHandle: number, doing: string): Uint8Array {
  const pub = outPointer();
  const name = outPointer();
  esys.call("Esys_NV_ReadPublic", doing, (lib, ctx) =>
    lib.Esys_NV_ReadPublic(ctx, nvHandle, ...noSessions, pub, name),
  );
  esys.free(pointerIn(name));
  return takeMarshalled(esys.tss, "Tss2_MU_TPM2B_NV_PUBLIC_Marshal", pointerIn(pub));
}

/** `size` bytes at `offset` of an NV index, authorised by `auth` (the index or a hierarchy; empty password). */
export function nvRead(
  esys: Esys,
  auth: number,
  nvHandle: number,
  size: number,
  offset: number,
  doing: string,
): Uint8Array {
  const out = outPointer();
  esys.call("Esys_NV_Read", doing, (lib, ctx) =>
    lib.Esys_NV_Read(ctx, auth, nvHandle, ...passwordSession, size, offset, out),
  );
  return takeFlatTpm2b(esys.tss, pointerIn(out));
}
