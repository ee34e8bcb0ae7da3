// TPM joining, client half (reference §6.3–6.4): present the EK (certificate when the TPM has
// one, else its public key, plus its TPMT_PUBLIC) and a fresh AK's creation attestation; then
// recover the server's secret with ActivateCredential. The TPM code (libtss2 through bun:ffi)
// is imported only here, when a TPM join actually runs.

import type { AkHandle, Tpm } from "../../tpm/device/index.ts";
import { encodeTpmtPublic } from "../../tpm/structures/index.ts";
import { UserError } from "../../util/errors.ts";
import type { JoinMethodClient } from "../client.ts";
import { b64, TPM, type TpmChallenge, type TpmInit, type TpmSolution, unb64 } from "./messages.ts";

export interface TpmJoinClientOptions {
  /** TCTI, e.g. "swtpm:host=127.0.0.1,port=2321"; default TBOT_TPM_TCTI or device:/dev/tpmrm0. */
  tcti?: string;
  debug?: boolean;
}

export function tpmJoinClient(opts: TpmJoinClientOptions = {}): JoinMethodClient {
  let tpm: Tpm | undefined;
  let ak: AkHandle | undefined;
  return {
    method: TPM,
    async init() {
      const { openTpm } = await import("../../tpm/device/index.ts");
      tpm = await openTpm({
        ...(opts.tcti ? { tcti: opts.tcti } : {}),
        ...(opts.debug ? { debug: true } : {}),
      });
      const ek = await tpm.ekInfo("rsa");
      ak = await tpm.createAk();
      const p = ak.params;
      const init: TpmInit = {
        ...(ek.ekCertDer ? { ek_cert: b64(ek.ekCertDer) } : { ek_key: b64(ek.ekPublicDer) }),
        ek_public: b64(encodeTpmtPublic(ek.ekPublic)),
        attestation_params: {
          public: b64(p.public),
          create_data: b64(p.create_data),
          create_attestation: b64(p.create_attestation),
          create_signature: b64(p.create_signature),
        },
      };
      return { ...init };
    },
    async solve(raw) {
      const ch = raw as unknown as TpmChallenge;
      if (ch.type !== "tpm_encrypted_credential" || !ak)
        throw new UserError(`unexpected challenge "${ch.type}" for a TPM join`);
      const secret = await ak.activate(unb64(ch.credential_blob), unb64(ch.secret));
      const sol: TpmSolution = { type: "tpm_solution", solution: b64(secret) };
      return { ...sol };
    },
    async close() {
      // The AK is per join; flushing it (and the session) keeps the TPM's few slots free.
      ak?.close();
      tpm?.close();
      ak = undefined;
      tpm = undefined;
    },
  };
}
