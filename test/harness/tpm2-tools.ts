// tpm2-tools as an independent oracle for tests against a swtpm: what the TPM holds
// (handles, NV, public keys) and a MakeCredential that shares no code with ours
// (`tpm2_makecredential --tcti none`, i.e. computed in software by tpm2-tools).

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "./proc.ts";
import type { SwtpmHandle } from "./swtpm.ts";

/** Run a tpm2 tool against `tpm`; throws with its stderr on failure. */
export function tpm2(tpm: SwtpmHandle, args: string[]): string {
  const r = run(args, { env: tpm.toolsEnv });
  if (r.code !== 0) throw new Error(`${args.join(" ")} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

/** Handles of a `tpm2_getcap handles-*` capability ("transient", "loaded-session", "persistent"…). */
export function handles(tpm: SwtpmHandle, kind: string): string[] {
  return tpm2(tpm, ["tpm2_getcap", `handles-${kind}`])
    .split("\n")
    .map((l) => l.replace(/^- /, "").trim())
    .filter(Boolean);
}

/** Everything a leak would leave behind: transient objects and sessions. */
export function loadedObjectsAndSessions(tpm: SwtpmHandle): string[] {
  return [...handles(tpm, "transient"), ...handles(tpm, "loaded-session"), ...handles(tpm, "saved-session")];
}

/**
 * TPM2_MakeCredential in software: `secret` for the AK named `akName`, encrypted to the EK whose
 * TPM2B_PUBLIC is in `ekPublicFile`. Returns the TPM2B_ID_OBJECT and TPM2B_ENCRYPTED_SECRET wire
 * bytes (size prefixes included), as a server sends them.
 */
export function makeCredential(
  dir: string,
  ekPublicFile: string,
  akName: Uint8Array,
  secret: Uint8Array,
): { credentialBlob: Uint8Array; secret: Uint8Array } {
  const secretFile = join(dir, "credential.secret");
  const out = join(dir, "credential.out");
  writeFileSync(secretFile, secret);
  const r = run([
    "tpm2_makecredential",
    "--tcti",
    "none",
    "-u",
    ekPublicFile,
    "-s",
    secretFile,
    "-n",
    Buffer.from(akName).toString("hex"),
    "-o",
    out,
  ]);
  if (r.code !== 0) throw new Error(`tpm2_makecredential failed: ${r.stderr}`);
  // tpm2-tools' file: magic 0xBADCC0DE, version 1 (u32 each), then both TPM2B structures.
  const file = new Uint8Array(readFileSync(out));
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  if (view.getUint32(0) !== 0xbadcc0de) throw new Error("not a tpm2-tools credential file");
  const idEnd = 8 + 2 + view.getUint16(8);
  return { credentialBlob: file.slice(8, idEnd), secret: file.slice(idEnd) };
}
