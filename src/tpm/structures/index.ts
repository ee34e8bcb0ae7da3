// TPM 2.0 structures in wire format, for both halves: the agent builds and reads them around
// libtss2 calls, the auth service checks what a client sent. Pure TypeScript, no FFI.

export * from "./attest.ts";
export * from "./constants.ts";
export * from "./creation-data.ts";
export * from "./public.ts";
export * from "./signature.ts";
export * from "./spki.ts";
export * from "./wire.ts";
