// Credential activation (TPM2_ActivateCredential) and the policy session a TCG default EK needs
// for it: its policy is PolicySecret(TPM_RH_ENDORSEMENT), satisfied in a session by the
// endorsement hierarchy's (empty) password.

import { EsysTr, noSessions, SessionType } from "../../../ffi/esys-constants.ts";
import {
  outHandle,
  outPointer,
  pointerIn,
  sizeOf,
  takeFlatTpm2b,
  u16Struct,
  unmarshalInto,
} from "../../../ffi/structs.ts";
import type { MuUnmarshal } from "../../../ffi/tss2.ts";
import { ExitCode } from "../../util/errors.ts";
import { Alg } from "../structures/constants.ts";
import { TpmError } from "./errors.ts";
import type { Esys } from "./esys.ts";

/** An unbound, unsalted policy session hashing with `authHash`; flush it when done (ESAPI keeps sessions open). */
export function startPolicySession(esys: Esys, authHash: number, doing: string): number {
  const handle = outHandle();
  const noSymmetric = u16Struct(Alg.NULL, 0, 0);
  esys.call("Esys_StartAuthSession", doing, (lib, ctx) =>
    lib.Esys_StartAuthSession(
      ctx,
      EsysTr.NONE,
      EsysTr.NONE,
      ...noSessions,
      null,
      SessionType.POLICY,
      noSymmetric,
      authHash,
      handle,
    ),
  );
  return handle[0]!;
}

/** TPM2_PolicySecret: `session` is satisfied by the (empty) password of `authHandle`. */
export function policySecret(esys: Esys, authHandle: number, session: number, doing: string): void {
  esys.call("Esys_PolicySecret", doing, (lib, ctx) =>
    lib.Esys_PolicySecret(
      ctx,
      authHandle,
      session,
      EsysTr.PASSWORD,
      EsysTr.NONE,
      EsysTr.NONE,
      null,
      null,
      null,
      0,
      null,
      null,
    ),
  );
}

/** A credential structure from the server in C layout; malformed input is the server's fault. */
function credentialInput(esys: Esys, fn: MuUnmarshal, wire: Uint8Array, size: number): Uint8Array {
  try {
    return unmarshalInto(esys.tss, fn, wire, size);
  } catch (e) {
    const what = fn.replace(/^Tss2_MU_|_Unmarshal$/g, "");
    throw new TpmError(
      `the credential challenge is malformed: not a ${what} (${(e as Error).message})`,
      "bad_parameter",
      ExitCode.error,
    );
  }
}

/**
 * TPM2_ActivateCredential: `key` (password auth) is the AK the credential names, `ek` is
 * authorised by `ekSession`. Blobs are TPM2B_ID_OBJECT / TPM2B_ENCRYPTED_SECRET wire bytes.
 */
export function activateCredential(
  esys: Esys,
  handles: { key: number; ek: number; ekSession: number },
  credentialBlob: Uint8Array,
  secret: Uint8Array,
  doing: string,
): Uint8Array {
  const blob = credentialInput(
    esys,
    "Tss2_MU_TPM2B_ID_OBJECT_Unmarshal",
    credentialBlob,
    sizeOf.TPM2B_ID_OBJECT,
  );
  const encrypted = credentialInput(
    esys,
    "Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal",
    secret,
    sizeOf.TPM2B_ENCRYPTED_SECRET,
  );
  const out = outPointer();
  const { key, ek, ekSession } = handles;
  esys.call("Esys_ActivateCredential", doing, (lib, ctx) =>
    lib.Esys_ActivateCredential(ctx, key, ek, EsysTr.PASSWORD, ekSession, EsysTr.NONE, blob, encrypted, out),
  );
  return takeFlatTpm2b(esys.tss, pointerIn(out));
}
