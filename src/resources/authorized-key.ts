// Checks an SSH public key in authorized_keys form ("ssh-ed25519 AAAA… comment"), the form
// `tbot keypair create` prints and bound-keypair tokens carry. The check decodes the wire
// blob (with the one SSH codec, crypto/ssh) so that a truncated or mistyped paste is caught
// when the token is created, not when the bot first tries to join.

import { parsePublicKeyLine, SshFormatError } from "../crypto/ssh/index.ts";

export const supportedKeyTypes = [
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "ssh-rsa",
] as const;

/** Modulus bytes of a 1024-bit RSA key, the smallest we take. */
const minRsaModulusBytes = 128;

/** A description of what is wrong, or undefined for a well-formed key. */
export function authorizedKeyProblem(line: string): string | undefined {
  // Anything after the base64 is a free-text comment.
  const [type, base64] = line.trim().split(/\s+/);
  if (type && base64 && !(supportedKeyTypes as readonly string[]).includes(type))
    return `key type "${type}" is not one of ${supportedKeyTypes.join(", ")}`;
  try {
    const key = parsePublicKeyLine(line);
    const modulus = key.type === "ssh-rsa" ? key.values[1] : undefined;
    if (modulus && modulus.length < minRsaModulusBytes)
      return "the RSA modulus is too short (need at least 1024 bits)";
  } catch (e) {
    if (e instanceof SshFormatError) return e.message;
    throw e;
  }
  return undefined;
}
