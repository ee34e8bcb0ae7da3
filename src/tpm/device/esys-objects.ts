// Making keys: TPM2_CreatePrimary, TPM2_Create, TPM2_Load, and TPM2_CertifyCreation (a key's
// signature over the TPM's record of having created it). Sensitive data, outside info and
// the creation PCR selection are always empty: tbot binds its keys to nothing but the TPM.

import type { Pointer } from "bun:ffi";
import { passwordSession } from "../../../ffi/esys-constants.ts";
import {
  flatTpm2b,
  marshalPointer,
  outHandle,
  outPointer,
  pointerIn,
  readFlatTpm2b,
  sizeOf,
  takeFlatTpm2b,
  takeMarshalled,
  u16Struct,
  unmarshalInto,
  zeroed,
} from "../../../ffi/structs.ts";
import { Alg } from "../structures/constants.ts";
import type { Esys } from "./esys.ts";

/** What TPM2_Create returns: the key and the proof CertifyCreation needs. */
export interface Created {
  /** TPM2B_PRIVATE wire bytes. */
  private: Uint8Array;
  /** TPM2B_PUBLIC wire bytes. */
  public: Uint8Array;
  /** TPMS_CREATION_DATA wire bytes (the TPM2B's body). */
  creationData: Uint8Array;
  /** The digest of creationData the TPM computed. */
  creationHash: Uint8Array;
  /** The TPMT_TK_CREATION ESAPI allocated; give it back with esys.free after CertifyCreation. */
  ticket: Pointer;
}

const emptyInputs = () =>
  [
    zeroed(sizeOf.TPM2B_SENSITIVE_CREATE),
    zeroed(sizeOf.TPM2B_DATA),
    zeroed(sizeOf.TPML_PCR_SELECTION),
  ] as const;

const publicIn = (esys: Esys, wire: Uint8Array) =>
  unmarshalInto(esys.tss, "Tss2_MU_TPM2B_PUBLIC_Unmarshal", wire, sizeOf.TPM2B_PUBLIC);

/** A primary key from `template` (TPM2B_PUBLIC wire) under `hierarchy` (an EsysTr.RH_*). */
export function createPrimary(
  esys: Esys,
  hierarchy: number,
  template: Uint8Array,
  doing: string,
): { handle: number; public: Uint8Array } {
  const [sensitive, outsideInfo, pcrs] = emptyInputs();
  const inPublic = publicIn(esys, template);
  const handle = outHandle();
  const pub = outPointer();
  esys.call("Esys_CreatePrimary", doing, (lib, ctx) =>
    lib.Esys_CreatePrimary(
      ctx,
      hierarchy,
      ...passwordSession,
      sensitive,
      inPublic,
      outsideInfo,
      pcrs,
      handle,
      pub,
      null,
      null,
      null,
    ),
  );
  return {
    handle: handle[0]!,
    public: takeMarshalled(esys.tss, "Tss2_MU_TPM2B_PUBLIC_Marshal", pointerIn(pub)),
  };
}

/** An ordinary key under `parent`; not loaded. */
export function create(esys: Esys, parent: number, template: Uint8Array, doing: string): Created {
  const [sensitive, outsideInfo, pcrs] = emptyInputs();
  const inPublic = publicIn(esys, template);
  const [priv, pub, data, hash, ticket] = [
    outPointer(),
    outPointer(),
    outPointer(),
    outPointer(),
    outPointer(),
  ];
  esys.call("Esys_Create", doing, (lib, ctx) =>
    lib.Esys_Create(
      ctx,
      parent,
      ...passwordSession,
      sensitive,
      inPublic,
      outsideInfo,
      pcrs,
      priv,
      pub,
      data,
      hash,
      ticket,
    ),
  );
  try {
    return {
      private: marshalPointer(esys.tss, "Tss2_MU_TPM2B_PRIVATE_Marshal", pointerIn(priv)),
      public: marshalPointer(esys.tss, "Tss2_MU_TPM2B_PUBLIC_Marshal", pointerIn(pub)),
      creationData: marshalPointer(esys.tss, "Tss2_MU_TPM2B_CREATION_DATA_Marshal", pointerIn(data)).slice(2),
      creationHash: readFlatTpm2b(pointerIn(hash)),
      ticket: pointerIn(ticket),
    };
  } catch (e) {
    esys.free(pointerIn(ticket));
    throw e;
  } finally {
    for (const slot of [priv, pub, data, hash]) esys.free(pointerIn(slot));
  }
}

/** Load a key made by create() under `parent`; returns its handle. */
export function load(esys: Esys, parent: number, created: Created, doing: string): number {
  const inPrivate = unmarshalInto(
    esys.tss,
    "Tss2_MU_TPM2B_PRIVATE_Unmarshal",
    created.private,
    sizeOf.TPM2B_PRIVATE,
  );
  const inPublic = publicIn(esys, created.public);
  const handle = outHandle();
  esys.call("Esys_Load", doing, (lib, ctx) =>
    lib.Esys_Load(ctx, parent, ...passwordSession, inPrivate, inPublic, handle),
  );
  return handle[0]!;
}

/**
 * TPM2_CertifyCreation with `key` signing its own creation (RSASSA-SHA256): TPMS_ATTEST and
 * TPMT_SIGNATURE wire bytes.
 */
export function certifyOwnCreation(
  esys: Esys,
  key: number,
  created: Created,
  doing: string,
): { attest: Uint8Array; signature: Uint8Array } {
  const attest = outPointer();
  const signature = outPointer();
  const creationHash = flatTpm2b(created.creationHash, sizeOf.TPM2B_DIGEST);
  const scheme = u16Struct(Alg.RSASSA, Alg.SHA256, 0);
  esys.call("Esys_CertifyCreation", doing, (lib, ctx) =>
    lib.Esys_CertifyCreation(
      ctx,
      key,
      key,
      ...passwordSession,
      zeroed(sizeOf.TPM2B_DATA),
      creationHash,
      scheme,
      created.ticket,
      attest,
      signature,
    ),
  );
  return {
    attest: takeFlatTpm2b(esys.tss, pointerIn(attest)),
    signature: takeMarshalled(esys.tss, "Tss2_MU_TPMT_SIGNATURE_Marshal", pointerIn(signature)),
  };
}
