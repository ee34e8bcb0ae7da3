// TPM joining (reference §6): the messages both halves exchange, in the shape of the
// reference's TPMInit / TPMEncryptedCredential / TPMSolution. Binary fields are base64.

export const TPM = "tpm";

/** The first message: the EK (certificate preferred, else PKIX public key) and the AK's attestation. */
export interface TpmInit {
  ek_cert?: string;
  ek_key?: string;
  /**
   * The EK's TPMT_PUBLIC: MakeCredential then uses its exact nameAlg and symmetric parameters
   * instead of the profile defaults for the key type. Must be the same key as the cert/key.
   */
  ek_public?: string;
  attestation_params: {
    /** TPMT_PUBLIC of the AK. */
    public: string;
    /** TPMS_CREATION_DATA. */
    create_data: string;
    /** TPMS_ATTEST from CertifyCreation. */
    create_attestation: string;
    /** TPMT_SIGNATURE over create_attestation by the AK. */
    create_signature: string;
  };
}

/** MakeCredential's output for the EK and AK presented: only that TPM can recover the secret. */
export interface TpmChallenge {
  type: "tpm_encrypted_credential";
  /** TPM2B_ID_OBJECT, with its 2-byte size prefix. */
  credential_blob: string;
  /** TPM2B_ENCRYPTED_SECRET, with its 2-byte size prefix. */
  secret: string;
}

export interface TpmSolution {
  type: "tpm_solution";
  /** The secret ActivateCredential recovered. */
  solution: string;
}

export const b64 = (b: Uint8Array): string => Buffer.from(b).toString("base64");
export const unb64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "base64"));
