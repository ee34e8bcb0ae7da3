// Issuing OpenSSH certificates with a WebCrypto CA key (Ed25519 or ECDSA).
import { certTypeCodes, type SshCertificate } from "./certificate.ts";
import { SshFormatError } from "./errors.ts";
import { keyTypes } from "./key-types.ts";
import { formatKeyLine } from "./line.ts";
import { encodeOptions } from "./options.ts";
import { parsePublicKeyLine, sshTypeOfWebCryptoKey } from "./public-key.ts";
import { signSshData } from "./signature.ts";
import { SshWriter, UINT64_MAX } from "./wire.ts";

/** What the CA decides; the fields mean what they mean in a parsed certificate. */
export interface SshCertSpec
  extends Pick<
    SshCertificate,
    "publicKeyLine" | "certType" | "keyId" | "principals" | "validAfter" | "validBefore" | "serial"
  > {
  /** Value "" means empty data (a flag). */
  criticalOptions?: Record<string, string>;
  extensions?: Record<string, string>;
}

/** The extensions of an interactive user certificate, as `ssh-keygen -s` sets by default. */
export const defaultUserExtensions: Record<string, string> = Object.freeze({
  "permit-X11-forwarding": "",
  "permit-agent-forwarding": "",
  "permit-port-forwarding": "",
  "permit-pty": "",
  "permit-user-rc": "",
});

function secondsOf(date: Date, field: string): bigint {
  const ms = date.getTime();
  if (!Number.isFinite(ms) || ms < 0) {
    throw new SshFormatError(`${field} must be a valid date after 1970, got ${date}`);
  }
  return BigInt(Math.floor(ms / 1000));
}

function checkSpec(spec: SshCertSpec): void {
  // OpenSSH reads an empty principal list as "any user" / "any host": never issue that by accident.
  if (spec.principals.length === 0) throw new SshFormatError("a certificate needs at least one principal");
  if (spec.principals.some((p) => p === "")) {
    throw new SshFormatError("a certificate principal must not be empty");
  }
  if (spec.certType !== "user" && spec.certType !== "host") {
    throw new SshFormatError(`certType must be "user" or "host", got "${spec.certType}"`);
  }
  if (spec.serial < 0n || spec.serial > UINT64_MAX) {
    throw new SshFormatError(`serial ${spec.serial} is not a uint64`);
  }
}

/** Sign a certificate with the CA private key; returns the cert line "<cert type> <base64>". */
export async function signSshCertificate(
  spec: SshCertSpec,
  caPrivateKey: CryptoKey,
  caPublicKeyLine: string,
  nonce: Uint8Array = crypto.getRandomValues(new Uint8Array(32)),
): Promise<string> {
  checkSpec(spec);
  const subject = parsePublicKeyLine(spec.publicKeyLine);
  const ca = parsePublicKeyLine(caPublicKeyLine);
  const caType = sshTypeOfWebCryptoKey(caPrivateKey).type;
  if (caType !== ca.type) {
    throw new SshFormatError(
      `the CA private key is ${caType} but the CA public key line is ${ca.type}; they must be a pair`,
    );
  }
  const validAfter = secondsOf(spec.validAfter, "validAfter");
  const validBefore =
    spec.validBefore === "forever" ? UINT64_MAX : secondsOf(spec.validBefore, "validBefore");
  if (validBefore <= validAfter) throw new SshFormatError("validBefore must be later than validAfter");

  const certType = (keyTypes[subject.type] as { certType: string }).certType;
  const toBeSigned = new SshWriter()
    .string(certType)
    .string(nonce)
    .bytes(subject.raw)
    .uint64(spec.serial)
    .uint32(certTypeCodes[spec.certType])
    .string(spec.keyId)
    .stringList(spec.principals)
    .uint64(validAfter)
    .uint64(validBefore)
    .string(encodeOptions(spec.criticalOptions, "critical options"))
    .string(encodeOptions(spec.extensions, "extensions"))
    .string(new Uint8Array(0)) // reserved
    .string(new SshWriter().string(ca.type).bytes(ca.raw).finish())
    .finish();
  const signature = await signSshData(caPrivateKey, toBeSigned);
  return formatKeyLine(certType, new SshWriter().bytes(toBeSigned).string(signature).finish());
}
