// OpenSSH keys and certificates over WebCrypto keys: our own small codec of the wire format.
// Full support (encode, sign, verify) for ssh-ed25519 and ecdsa-sha2-nistp256; reading for
// every type in key-types.ts, so that any certificate can be inspected.
export { parseAuthorizedKey, sshFingerprint } from "./authorized-key.ts";
export { parseSshCertificate, type SshCertificate, verifySshCertificate } from "./certificate.ts";
export { defaultUserExtensions, type SshCertSpec, signSshCertificate } from "./certificate-sign.ts";
export { SshFormatError } from "./errors.ts";
export type { SshKeyType } from "./key-types.ts";
export { encodeOpenSshPrivateKey } from "./private-key.ts";
export { importSshPublicKey, parsePublicKeyLine, sshPublicKeyLine } from "./public-key.ts";
