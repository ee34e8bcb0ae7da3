// bun:ffi bindings to tpm2-tss: ESAPI (libtss2-esys), the TCTI loader (libtss2-tctildr),
// marshalling (libtss2-mu) and return-code decoding (libtss2-rc). Bindings only: which
// commands to run and what their results mean is src/tpm/device's business.
//
// C types: TSS2_RC and ESYS_TR are u32 (print rc with `>>> 0`); UINT16/TPM2_SU/TPMI_ALG_* are
// u16; TPM2_SE is u8; INT32 is i32; size_t is u64; every pointer (T*, T**, char*) is "ptr".
// The TCTI plugin itself (libtss2-tcti-device / -swtpm) is loaded by tctildr, not by us.

import { dlopen, type FFIFunction, type Library } from "bun:ffi";
import { libraryDirs, locateLibrary } from "./locate.ts";
import { setNativeEnv } from "./native-env.ts";

const esysSymbols = {
  Esys_Initialize: { args: ["ptr", "ptr", "ptr"], returns: "u32" },
  Esys_Finalize: { args: ["ptr"], returns: "void" },
  Esys_Free: { args: ["ptr"], returns: "void" },
  // (ctx, shandle1..3, capability, property, propertyCount, *moreData, **capabilityData)
  Esys_GetCapability: {
    args: ["ptr", "u32", "u32", "u32", "u32", "u32", "u32", "ptr", "ptr"],
    returns: "u32",
  },
  // (ctx, primaryHandle, shandle1..3, inSensitive, inPublic, outsideInfo, creationPCR,
  //  *objectHandle, **outPublic, **creationData, **creationHash, **creationTicket)
  Esys_CreatePrimary: {
    args: ["ptr", "u32", "u32", "u32", "u32", "ptr", "ptr", "ptr", "ptr", "ptr", "ptr", "ptr", "ptr", "ptr"],
    returns: "u32",
  },
  // (ctx, parentHandle, shandle1..3, inSensitive, inPublic, outsideInfo, creationPCR,
  //  **outPrivate, **outPublic, **creationData, **creationHash, **creationTicket)
  Esys_Create: {
    args: ["ptr", "u32", "u32", "u32", "u32", "ptr", "ptr", "ptr", "ptr", "ptr", "ptr", "ptr", "ptr", "ptr"],
    returns: "u32",
  },
  // (ctx, parentHandle, shandle1..3, inPrivate, inPublic, *objectHandle)
  Esys_Load: { args: ["ptr", "u32", "u32", "u32", "u32", "ptr", "ptr", "ptr"], returns: "u32" },
  // (ctx, signHandle, objectHandle, shandle1..3, qualifyingData, creationHash, inScheme,
  //  creationTicket, **certifyInfo, **signature)
  Esys_CertifyCreation: {
    args: ["ptr", "u32", "u32", "u32", "u32", "u32", "ptr", "ptr", "ptr", "ptr", "ptr", "ptr"],
    returns: "u32",
  },
  Esys_FlushContext: { args: ["ptr", "u32"], returns: "u32" },
  // (ctx, tpmHandle, shandle1..3, *object): an ESYS_TR for a persistent object or NV index
  Esys_TR_FromTPMPublic: { args: ["ptr", "u32", "u32", "u32", "u32", "ptr"], returns: "u32" },
  // (ctx, *object): forgets the ESYS_TR without touching the TPM (persistent and NV handles)
  Esys_TR_Close: { args: ["ptr", "ptr"], returns: "u32" },
  Esys_TR_GetName: { args: ["ptr", "u32", "ptr"], returns: "u32" },
  // (ctx, objectHandle, shandle1..3, **outPublic, **name, **qualifiedName)
  Esys_ReadPublic: { args: ["ptr", "u32", "u32", "u32", "u32", "ptr", "ptr", "ptr"], returns: "u32" },
  // (ctx, nvIndex, shandle1..3, **nvPublic, **nvName)
  Esys_NV_ReadPublic: { args: ["ptr", "u32", "u32", "u32", "u32", "ptr", "ptr"], returns: "u32" },
  // (ctx, authHandle, nvIndex, shandle1..3, size, offset, **data)
  Esys_NV_Read: { args: ["ptr", "u32", "u32", "u32", "u32", "u32", "u16", "u16", "ptr"], returns: "u32" },
  // (ctx, tpmKey, bind, shandle1..3, nonceCaller, sessionType, symmetric, authHash, *sessionHandle)
  Esys_StartAuthSession: {
    args: ["ptr", "u32", "u32", "u32", "u32", "u32", "ptr", "u8", "ptr", "u16", "ptr"],
    returns: "u32",
  },
  // (ctx, authHandle, policySession, shandle1..3, nonceTPM, cpHashA, policyRef, expiration,
  //  **timeout, **policyTicket)
  Esys_PolicySecret: {
    args: ["ptr", "u32", "u32", "u32", "u32", "u32", "ptr", "ptr", "ptr", "i32", "ptr", "ptr"],
    returns: "u32",
  },
  // (ctx, activateHandle, keyHandle, shandle1..3, credentialBlob, secret, **certInfo)
  Esys_ActivateCredential: {
    args: ["ptr", "u32", "u32", "u32", "u32", "u32", "ptr", "ptr", "ptr"],
    returns: "u32",
  },
} as const satisfies Record<string, FFIFunction>;

const tctildrSymbols = {
  // (const char *conf, TSS2_TCTI_CONTEXT **context)
  Tss2_TctiLdr_Initialize: { args: ["ptr", "ptr"], returns: "u32" },
  Tss2_TctiLdr_Finalize: { args: ["ptr"], returns: "void" },
} as const satisfies Record<string, FFIFunction>;

// Marshal(src, buffer, buffer_size, *offset) writes TPM wire bytes from a C struct;
// Unmarshal(buffer, buffer_size, *offset, dest) fills a C struct from wire bytes.
const marshal = { args: ["ptr", "ptr", "u64", "ptr"], returns: "u32" } as const;
const unmarshal = { args: ["ptr", "u64", "ptr", "ptr"], returns: "u32" } as const;
const muSymbols = {
  Tss2_MU_TPM2B_PUBLIC_Marshal: marshal,
  Tss2_MU_TPM2B_PUBLIC_Unmarshal: unmarshal,
  Tss2_MU_TPM2B_PRIVATE_Marshal: marshal,
  Tss2_MU_TPM2B_PRIVATE_Unmarshal: unmarshal,
  Tss2_MU_TPM2B_NV_PUBLIC_Marshal: marshal,
  Tss2_MU_TPM2B_CREATION_DATA_Marshal: marshal,
  Tss2_MU_TPMT_SIGNATURE_Marshal: marshal,
  Tss2_MU_TPMS_CAPABILITY_DATA_Marshal: marshal,
  Tss2_MU_TPM2B_ID_OBJECT_Unmarshal: unmarshal,
  Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal: unmarshal,
} as const satisfies Record<string, FFIFunction>;

const rcSymbols = {
  Tss2_RC_Decode: { args: ["u32"], returns: "cstring" },
} as const satisfies Record<string, FFIFunction>;

export interface Tss2 {
  esys: Library<typeof esysSymbols>["symbols"];
  tctildr: Library<typeof tctildrSymbols>["symbols"];
  mu: Library<typeof muSymbols>["symbols"];
  rc: Library<typeof rcSymbols>["symbols"];
}

export type MuMarshal = keyof { [K in keyof Tss2["mu"] as K extends `${string}_Marshal` ? K : never]: 0 };
export type MuUnmarshal = keyof { [K in keyof Tss2["mu"] as K extends `${string}_Unmarshal` ? K : never]: 0 };

/** The runtime sonames (the unversioned .so links come only with libtss2-dev). */
export const tss2Sonames = {
  esys: "libtss2-esys.so.0",
  tctildr: "libtss2-tctildr.so.0",
  mu: "libtss2-mu.so.0",
  rc: "libtss2-rc.so.0",
} as const;

/** dlopen found the file but could not load it (wrong architecture, a missing dependency…). */
export class LibraryLoadFailed extends Error {
  constructor(
    readonly path: string,
    cause: Error,
  ) {
    super(`cannot load ${path}: ${cause.message}`);
    this.name = "LibraryLoadFailed";
  }
}

export interface LoadOptions {
  /**
   * TSS2_LOG for libtss2's own stderr logger (e.g. "all+none" to silence it); set in the native
   * environment before the first library is opened, unless the real environment already has
   * one. Undefined leaves libtss2's default (errors and warnings) alone.
   */
  logLevel?: string;
}

let loaded: Tss2 | null = null;

/**
 * Open the four libraries once per process, each by absolute path. Throws LibraryNotFound
 * (with the soname and the directories searched) or LibraryLoadFailed.
 */
export function loadTss2(opts: LoadOptions = {}): Tss2 {
  if (loaded) return loaded;
  if (opts.logLevel !== undefined && process.env.TSS2_LOG === undefined)
    setNativeEnv("TSS2_LOG", opts.logLevel);
  const dirs = libraryDirs();
  // Locate all before opening any, so a missing one is reported before side effects.
  const paths = {
    esys: locateLibrary(tss2Sonames.esys, dirs),
    tctildr: locateLibrary(tss2Sonames.tctildr, dirs),
    mu: locateLibrary(tss2Sonames.mu, dirs),
    rc: locateLibrary(tss2Sonames.rc, dirs),
  };
  loaded = {
    esys: open(paths.esys, esysSymbols),
    tctildr: open(paths.tctildr, tctildrSymbols),
    mu: open(paths.mu, muSymbols),
    rc: open(paths.rc, rcSymbols),
  };
  return loaded;
}

function open<F extends Record<string, FFIFunction>>(path: string, symbols: F): Library<F>["symbols"] {
  try {
    return dlopen(path, symbols).symbols;
  } catch (e) {
    throw new LibraryLoadFailed(path, e as Error);
  }
}
