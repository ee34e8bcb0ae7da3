// The OpenSSH certificate structure (PROTOCOL.certkeys, draft-miller-ssh-cert) and its parser.
import { SshFormatError, shownName } from "./errors.ts";
import { describeKnownTypes, plainTypeOfCertType } from "./key-types.ts";
import { decodeKeyLine, formatKeyLine } from "./line.ts";
import { decodeOptions } from "./options.ts";
import { parsePublicKeyBlob, parsePublicKeyLine, publicKeyBlobOf, readKeyFields } from "./public-key.ts";
import { verifySshSignature } from "./signature.ts";
import { SshReader, UINT64_MAX } from "./wire.ts";

export interface SshCertificate {
  /** Certificate type, e.g. "ssh-ed25519-cert-v01@openssh.com". */
  type: string;
  /** Type of the certified key, e.g. "ssh-ed25519". */
  keyType: string;
  nonce: Uint8Array;
  publicKeyBlob: Uint8Array;
  /** The certified key, authorized_keys form. */
  publicKeyLine: string;
  serial: bigint;
  certType: "user" | "host";
  keyId: string;
  principals: string[];
  validAfter: Date;
  validBefore: Date | "forever";
  criticalOptions: Record<string, string>;
  extensions: Record<string, string>;
  signatureKeyLine: string;
  /** Everything the CA signed: the blob up to and including the signature key. */
  signedBytes: Uint8Array;
  /** The SSH signature blob: string(algorithm) + string(body). */
  signature: Uint8Array;
}

export const certTypeCodes = { user: 1, host: 2 } as const;

// JavaScript dates end at 8.64e15 ms. Later times cannot be shown as a Date, and mean
// "never" for all practical purposes.
const LAST_DATE_SECONDS = 8_640_000_000_000n;

function dateFromSeconds(seconds: bigint): Date {
  return new Date(Number(seconds > LAST_DATE_SECONDS ? LAST_DATE_SECONDS : seconds) * 1000);
}

export function parseCertificateBlob(blob: Uint8Array): SshCertificate {
  const r = new SshReader(blob, "certificate");
  const type = r.text("certificate type");
  const keyType = plainTypeOfCertType(type);
  if (!keyType) {
    throw new SshFormatError(
      `${shownName(type)} is not a certificate type we know; known key types: ${describeKnownTypes()}`,
    );
  }
  const nonce = r.string("nonce");
  const keyFields = readKeyFields(r, keyType);
  const serial = r.uint64("serial");
  const certTypeCode = r.uint32("certificate type (user/host)");
  const certType =
    certTypeCode === certTypeCodes.user ? "user" : certTypeCode === certTypeCodes.host ? "host" : undefined;
  if (!certType) {
    throw new SshFormatError(`certificate type code must be 1 (user) or 2 (host), got ${certTypeCode}`);
  }
  const keyId = r.text("key id");
  const principals = r.stringList("valid principals");
  const validAfter = r.uint64("valid after");
  const validBefore = r.uint64("valid before");
  const criticalOptions = decodeOptions(r.string("critical options"), "critical options");
  const extensions = decodeOptions(r.string("extensions"), "extensions");
  r.string("reserved");
  const signatureKeyBlob = r.string("signature key");
  const signedBytes = r.consumedSince(0);
  const signature = r.string("signature");
  r.expectEnd();

  const signatureKey = parsePublicKeyBlob(signatureKeyBlob, "signature (CA) key");
  const publicKeyBlob = publicKeyBlobOf(keyFields);
  return {
    type,
    keyType,
    nonce,
    publicKeyBlob,
    publicKeyLine: formatKeyLine(keyType, publicKeyBlob),
    serial,
    certType,
    keyId,
    principals,
    validAfter: dateFromSeconds(validAfter),
    validBefore: validBefore === UINT64_MAX ? "forever" : dateFromSeconds(validBefore),
    criticalOptions,
    extensions,
    signatureKeyLine: formatKeyLine(signatureKey.type, signatureKeyBlob),
    signedBytes,
    signature,
  };
}

/** Parse a certificate line ("<cert type> <base64> [comment]"), e.g. the contents of an id_*-cert.pub file. */
export function parseSshCertificate(line: string): SshCertificate {
  const { type, blob } = decodeKeyLine(line);
  if (!plainTypeOfCertType(type)) {
    throw new SshFormatError(`expected an OpenSSH certificate, got a ${shownName(type)} key line`);
  }
  return parseCertificateBlob(blob);
}

/**
 * Verify the CA signature over `cert.signedBytes` with the key in `cert.signatureKeyLine`.
 * Whether that CA is trusted, and the validity window and principals, are the caller's policy.
 */
export async function verifySshCertificate(cert: SshCertificate): Promise<boolean> {
  return verifySshSignature(parsePublicKeyLine(cert.signatureKeyLine), cert.signature, cert.signedBytes);
}
