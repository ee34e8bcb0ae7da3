// The agent's TPM: typed operations over libtss2 (ffi/). Import this module lazily, only on a
// TPM path: opening it loads the native libraries, and every other command must keep working
// on machines without them.
//
//   openTpm(opts?: { tcti?: string; debug?: boolean; ekAlgorithm?: "rsa" | "ecc" }): Promise<Tpm>
//     tcti: a TCTI string, default TBOT_TPM_TCTI or "device:/dev/tpmrm0" (never empty).
//     debug: keep libtss2's own stderr logging (otherwise silenced with TSS2_LOG=all+none).
//     ekAlgorithm: the EK ekInfo() reads by default and AKs activate with (default "rsa").
//   Tpm.ekInfo(algorithm?): Promise<EkInfo>
//     { algorithm, source, ekPublic, ekPublicDer, ekPublicPem, ekPubHash,
//       ekCertDer?, ekCertPem?, ekCertSerial?, ekCertIndex?, warnings }
//   Tpm.createAk(): Promise<AkHandle>
//     { params: { public, create_data, create_attestation, create_signature }, name,
//       activate(credentialBlob, secret): Promise<Uint8Array>, close() }
//   Tpm.close(): flushes every AK still open, then disconnects.
//
// Errors are TpmError (a UserError): exit code 3 (ExitCode.tpmUnavailable) when there is no
// usable TPM (libraries, device, permission, simulator, slots, lockout), 1 when a command failed
// (e.g. an activation with a credential made for another TPM). Every object and session tbot
// loads is flushed before the call that loaded it returns, or by AkHandle.close().
//
// The calls block the thread while the TPM works (tens of milliseconds on swtpm; an RSA
// primary key can take seconds on a hardware TPM); they are async so that they can move to a
// worker without changing callers.

import { LibraryNotFound } from "../../../ffi/locate.ts";
import { LibraryLoadFailed, loadTss2, type Tss2 } from "../../../ffi/tss2.ts";
import { ExitCode } from "../../util/errors.ts";
import { type AkHandle, createAk } from "./ak.ts";
import { type EkAlgorithm, type EkInfo, readEkInfo } from "./ek.ts";
import { libraryError, TpmError } from "./errors.ts";
import { Esys } from "./esys.ts";
import { checkTcti, tctiFromEnv } from "./tcti.ts";

export type { AkHandle, AttestationParams } from "./ak.ts";
export type { EkAlgorithm, EkInfo } from "./ek.ts";
export { TpmError } from "./errors.ts";
export { defaultTcti, tctiFromEnv } from "./tcti.ts";

export interface OpenOptions {
  tcti?: string;
  debug?: boolean;
  ekAlgorithm?: EkAlgorithm;
}

export interface Tpm {
  /** The TCTI string in use. */
  readonly tcti: string;
  ekInfo(algorithm?: EkAlgorithm): Promise<EkInfo>;
  createAk(): Promise<AkHandle>;
  close(): void;
}

/** Load libtss2 (once per process), quieting its stderr logger unless debugging. */
export function loadLibraries(debug = false): Tss2 {
  try {
    return loadTss2(debug ? {} : { logLevel: "all+none" });
  } catch (e) {
    if (e instanceof LibraryNotFound || e instanceof LibraryLoadFailed) throw libraryError(e)!;
    throw e;
  }
}

export async function openTpm(opts: OpenOptions = {}): Promise<Tpm> {
  const tcti = opts.tcti ?? tctiFromEnv();
  const bad = checkTcti(tcti);
  if (bad)
    throw new TpmError(
      `${bad}; set TBOT_TPM_TCTI to e.g. "device:/dev/tpmrm0"`,
      "bad_parameter",
      ExitCode.tpmUnavailable,
    );
  const esys = Esys.open(loadLibraries(opts.debug), tcti);
  const defaultAlgorithm = opts.ekAlgorithm ?? "rsa";
  const openAks = new Set<AkHandle>();
  return {
    tcti,
    async ekInfo(algorithm = defaultAlgorithm) {
      return readEkInfo(esys, algorithm);
    },
    async createAk() {
      const ak = createAk(esys, defaultAlgorithm, (closed) => openAks.delete(closed));
      openAks.add(ak);
      return ak;
    },
    close() {
      for (const ak of [...openAks]) ak.close();
      esys.close();
    },
  };
}
