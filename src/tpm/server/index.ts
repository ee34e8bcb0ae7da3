// The auth service's half of TPM joining, without a TPM: check what the client's TPM produced
// and make the challenge only that TPM can answer. src/join/tpm/ drives these in order.

export { type AkAttestationParams, type AkCheck, AkCheckError, checkAkParameters } from "./ak-checks.ts";
export { matchAllowRules, type TpmAllowRule, type ValidatedTpm } from "./allow-rules.ts";
export {
  describeName,
  type EkChain,
  type EkIdentity,
  ekIdentityFromCertificate,
  ekIdentityFromPublicKey,
  ekPublicHash,
  formatCertificateSerial,
  isSignedBy,
  type ParsedCertificate,
  parseAllowedCas,
  readEkCertificate,
  verifyEkChain,
} from "./ek-validation.ts";
export {
  type EkPublicInput,
  type EncryptedCredential,
  type MakeCredentialInput,
  makeCredential,
} from "./make-credential.ts";
