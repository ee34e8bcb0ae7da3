// Key lines of any kind (plain keys and certificates), as found in authorized_keys and *.pub.
import { createHash } from "node:crypto";
import { parseCertificateBlob } from "./certificate.ts";
import { SshFormatError, shownName } from "./errors.ts";
import { describeKnownTypes, isCertType, isPlainKeyType } from "./key-types.ts";
import { decodeKeyLine } from "./line.ts";
import { parsePublicKeyBlob } from "./public-key.ts";

export interface AuthorizedKey {
  type: string;
  /** The raw wire blob (a key blob, or a whole certificate blob). */
  blob: Uint8Array;
  comment: string;
}

/** Parse "<type> <base64> [comment]" (plain key or certificate); the blob is checked all the way through. */
export function parseAuthorizedKey(line: string): AuthorizedKey {
  const decoded = decodeKeyLine(line);
  plainKeyBlobOf(decoded);
  return decoded;
}

/** The plain public key blob of a key line: the key itself, or the key a certificate certifies. */
function plainKeyBlobOf({ type, blob }: { type: string; blob: Uint8Array }): Uint8Array {
  if (isCertType(type)) return parseCertificateBlob(blob).publicKeyBlob;
  if (!isPlainKeyType(type)) {
    throw new SshFormatError(`unknown key type ${shownName(type)}; known types: ${describeKnownTypes()}`);
  }
  parsePublicKeyBlob(blob, `${type} public key`);
  return blob;
}

/**
 * "SHA256:<base64 without padding>" as `ssh-keygen -l` prints it. For a certificate this is
 * the fingerprint of the certified key, as ssh-keygen shows it too.
 */
export function sshFingerprint(publicKeyLine: string): string {
  const digest = createHash("sha256")
    .update(plainKeyBlobOf(decodeKeyLine(publicKeyLine)))
    .digest("base64");
  return `SHA256:${digest.replace(/=+$/, "")}`;
}
