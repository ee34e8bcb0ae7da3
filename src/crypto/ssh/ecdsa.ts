// ECDSA specifics: SSH names curves "nistpNNN" and carries signatures as two mpints, while
// WebCrypto wants "P-NNN" and gives/takes r||s as fixed-width big-endian halves (IEEE P1363).
import { SshFormatError } from "./errors.ts";
import { SshReader, SshWriter } from "./wire.ts";

export interface EcdsaCurve {
  sshName: string;
  keyType: string;
  webCryptoName: "P-256" | "P-384" | "P-521";
  /** RFC 5656 §6.2.1: the hash follows the curve size. */
  hash: "SHA-256" | "SHA-384" | "SHA-512";
  /** Bytes in one coordinate / scalar. */
  size: number;
}

export const ecdsaCurves: readonly EcdsaCurve[] = [
  { sshName: "nistp256", keyType: "ecdsa-sha2-nistp256", webCryptoName: "P-256", hash: "SHA-256", size: 32 },
  { sshName: "nistp384", keyType: "ecdsa-sha2-nistp384", webCryptoName: "P-384", hash: "SHA-384", size: 48 },
  { sshName: "nistp521", keyType: "ecdsa-sha2-nistp521", webCryptoName: "P-521", hash: "SHA-512", size: 66 },
];

export function curveBySshName(name: string): EcdsaCurve | undefined {
  return ecdsaCurves.find((c) => c.sshName === name);
}

export function curveByWebCryptoName(name: string): EcdsaCurve | undefined {
  return ecdsaCurves.find((c) => c.webCryptoName === name);
}

/** WebCrypto r||s to the SSH signature body mpint(r) + mpint(s). */
export function p1363ToSshSignature(rs: Uint8Array, curve: EcdsaCurve): Uint8Array {
  if (rs.length !== 2 * curve.size) {
    throw new SshFormatError(
      `ECDSA ${curve.webCryptoName} signature must be ${2 * curve.size} bytes, got ${rs.length}`,
    );
  }
  return new SshWriter().mpint(rs.subarray(0, curve.size)).mpint(rs.subarray(curve.size)).finish();
}

/** The SSH signature body mpint(r) + mpint(s) to WebCrypto's r||s, each half left-padded to the curve size. */
export function sshSignatureToP1363(body: Uint8Array, curve: EcdsaCurve): Uint8Array {
  const r = new SshReader(body, "ECDSA signature");
  const halves = [r.mpint("r"), r.mpint("s")];
  r.expectEnd();
  const out = new Uint8Array(2 * curve.size);
  halves.forEach((half, i) => {
    if (half.length > curve.size) {
      throw new SshFormatError(`ECDSA signature: ${i ? "s" : "r"} is too large for ${curve.sshName}`);
    }
    out.set(half, (i + 1) * curve.size - half.length);
  });
  return out;
}
