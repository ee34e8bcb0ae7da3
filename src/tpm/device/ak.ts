// The attestation key (reference §6.3): a fresh restricted signing key per join, created under
// the storage root key, with the TPM's own statement (CertifyCreation) that it made this key
// inside itself. Activation (§6.5 step 6) proves the AK and the EK live in the same TPM: only
// that TPM's EK can decrypt a credential bound to this AK's name.

import { EsysTr } from "../../../ffi/esys-constants.ts";
import { hasAttribute, parseTpm2bPublic } from "../structures/public.ts";
import { handleExists } from "./capabilities.ts";
import { flushQuietly } from "./cleanup.ts";
import { type EkAlgorithm, withEk } from "./ek.ts";
import type { Esys } from "./esys.ts";
import { activateCredential, policySecret, startPolicySession } from "./esys-credential.ts";
import { certifyOwnCreation, create, createPrimary, load } from "./esys-objects.ts";
import { rsaAkTemplate, rsaSrkTemplate, templateWire } from "./templates.ts";

/** The SRK's conventional persistent handle (TCG Provisioning Guidance). */
const srkPersistent = 0x81000001;

/** What the server checks (go-attestation's AttestationParameters): raw TPM wire bytes. */
export interface AttestationParams {
  /** TPMT_PUBLIC of the AK. */
  public: Uint8Array;
  /** TPMS_CREATION_DATA the TPM recorded when it created the AK. */
  create_data: Uint8Array;
  /** TPMS_ATTEST (type ATTEST_CREATION) over the AK's name and creation data hash. */
  create_attestation: Uint8Array;
  /** TPMT_SIGNATURE of create_attestation by the AK itself. */
  create_signature: Uint8Array;
}

export interface AkHandle {
  readonly params: AttestationParams;
  /** The AK's Name (nameAlg || SHA-256(TPMT_PUBLIC)): what a credential is bound to. */
  readonly name: Uint8Array;
  /**
   * TPM2_ActivateCredential with the EK of the TPM: `credentialBlob` (TPM2B_ID_OBJECT) and
   * `secret` (TPM2B_ENCRYPTED_SECRET) as wire bytes with their size prefixes; returns the
   * decrypted credential. Throws TpmError (TPM_RC_INTEGRITY when it was made for another
   * EK or AK). Can be called more than once.
   */
  activate(credentialBlob: Uint8Array, secret: Uint8Array): Promise<Uint8Array>;
  /** Flush the AK from the TPM. Idempotent. */
  close(): void;
}

/** Run `use` with a storage root key: the persistent one if provisioned, else a transient one. */
function withSrk<T>(esys: Esys, use: (srk: number) => T): T {
  if (handleExists(esys, srkPersistent)) {
    const srk = esys.lookUp(srkPersistent, "reading the storage root key at 0x81000001");
    try {
      return use(srk);
    } finally {
      esys.forget(srk);
    }
  }
  // Transient: nothing is written into the TPM's persistent storage on tbot's behalf.
  const { handle } = createPrimary(
    esys,
    EsysTr.RH_OWNER,
    templateWire(rsaSrkTemplate),
    "creating the storage root key (RSA-2048) under the owner hierarchy",
  );
  let failed = true;
  try {
    const result = use(handle);
    failed = false;
    return result;
  } finally {
    flushQuietly(esys, handle, failed);
  }
}

/** A loaded AK and its attestation parameters. `onClose` is told when it is flushed. */
export function createAk(esys: Esys, ekAlgorithm: EkAlgorithm, onClose: (ak: AkHandle) => void): AkHandle {
  const doing = "creating the attestation key";
  const { handle, params, name } = withSrk(esys, (srk) => {
    const created = create(esys, srk, templateWire(rsaAkTemplate), doing);
    try {
      const ak = load(esys, srk, created, "loading the attestation key");
      try {
        const { attest, signature } = certifyOwnCreation(
          esys,
          ak,
          created,
          "certifying the attestation key's creation",
        );
        const params: AttestationParams = {
          public: created.public.slice(2),
          create_data: created.creationData,
          create_attestation: attest,
          create_signature: signature,
        };
        return { handle: ak, params, name: esys.name(ak) };
      } catch (e) {
        flushQuietly(esys, ak, true);
        throw e;
      }
    } finally {
      esys.free(created.ticket);
    }
  });

  let open = true;
  const ak: AkHandle = {
    params,
    name,
    async activate(credentialBlob, secret) {
      if (!open) throw new Error("the attestation key is closed");
      return activate(esys, ekAlgorithm, handle, credentialBlob, secret);
    },
    close() {
      if (!open) return;
      open = false;
      onClose(ak);
      flushQuietly(esys, handle, true); // a dead connection has nothing left to flush
    },
  };
  return ak;
}

function activate(
  esys: Esys,
  ekAlgorithm: EkAlgorithm,
  ak: number,
  credentialBlob: Uint8Array,
  secret: Uint8Array,
): Uint8Array {
  const doing = "activating the credential";
  const run = (ek: number, ekSession: number) =>
    activateCredential(esys, { key: ak, ek, ekSession }, credentialBlob, secret, doing);
  return withEk(esys, ekAlgorithm, (ek) => {
    const ekPublic = parseTpm2bPublic(ek.publicWire, "EK public area");
    // High-range EKs (Profile 2.3 H-templates, swtpm's P-384 one) set userWithAuth: their
    // empty password authorises them.
    if (hasAttribute(ekPublic, "userWithAuth")) return run(ek.handle, EsysTr.PASSWORD);
    // The low-range ones (L-1, L-2) only accept their policy, PolicySecret(TPM_RH_ENDORSEMENT),
    // satisfied in a policy session of the EK's nameAlg.
    const session = startPolicySession(esys, ekPublic.nameAlg, doing);
    let failed = true;
    try {
      policySecret(esys, EsysTr.RH_ENDORSEMENT, session, doing);
      const out = run(ek.handle, session);
      failed = false;
      return out;
    } finally {
      // ESAPI sets continueSession, so the TPM keeps the session after the command.
      flushQuietly(esys, session, failed);
    }
  });
}
