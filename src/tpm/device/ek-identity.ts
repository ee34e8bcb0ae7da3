// The EK identity as tbot and tauth both derive it (reference §6.2): the certificate as stored
// in NV, its serial in the reference's notation, and the EK public hash. Pure functions: the
// server side and the tests use them without a TPM.

import { createHash } from "node:crypto";
import { children, contentOf, encodingOf, readTlv, Tag } from "../../crypto/der.ts";

/** Some vendors store the certificate behind a header: 0x10 0x01 0x00, then a big-endian u16 length. */
const vendorHeader = [0x10, 0x01, 0x00] as const;

/**
 * The DER certificate inside the bytes of an EK certificate NV index: the vendor header (if
 * any) removed, and whatever follows the certificate's own DER length (0xFF or 0x00 padding
 * of a fixed-size index) dropped.
 */
export function certificateFromNv(nv: Uint8Array): Uint8Array {
  let body = nv;
  if (nv.length >= 5 && vendorHeader.every((b, i) => nv[i] === b)) {
    const length = (nv[3]! << 8) | nv[4]!;
    if (5 + length > nv.length)
      throw new Error(`EK certificate header says ${length} bytes, only ${nv.length - 5} stored`);
    body = nv.subarray(5, 5 + length);
  }
  if (body[0] !== Tag.SEQUENCE)
    throw new Error("EK certificate NV data is not DER (no SEQUENCE at the start)");
  const cert = readTlv(body);
  return body.slice(0, cert.end);
}

/** tbsCertificate's fields: serialNumber and subjectPublicKeyInfo, as DER nodes. */
function tbsFields(der: Uint8Array) {
  const cert = readTlv(der);
  const tbs = children(der, cert)[0];
  if (cert.tag !== Tag.SEQUENCE || tbs?.tag !== Tag.SEQUENCE) throw new Error("not an X.509 certificate");
  const fields = children(der, tbs);
  const first = fields[0]?.tag === 0xa0 ? 1 : 0; // [0] EXPLICIT version is optional (v1)
  const serial = fields[first];
  const spki = fields[first + 5];
  if (serial?.tag !== Tag.INTEGER || spki?.tag !== Tag.SEQUENCE) throw new Error("not an X.509 certificate");
  return { serial, spki };
}

/**
 * The serial as the reference writes it: the unsigned big-endian number in lowercase hex,
 * left-padded to an even number of digits, bytes separated by ":" ("01:ab:ff"). A negative
 * serial (invalid, but seen in the wild) is written as its magnitude.
 */
export function certificateSerial(der: Uint8Array): string {
  const { serial } = tbsFields(der);
  const bytes = contentOf(der, serial);
  let n = BigInt(`0x${Buffer.from(bytes).toString("hex") || "0"}`);
  if (bytes.length > 0 && bytes[0]! & 0x80) n = (1n << BigInt(bytes.length * 8)) - n;
  const hex = n.toString(16);
  const even = hex.length % 2 ? `0${hex}` : hex;
  return even.match(/../g)!.join(":");
}

/** The certificate's SubjectPublicKeyInfo, DER. */
export function certificateSpki(der: Uint8Array): Uint8Array {
  return encodingOf(der, tbsFields(der).spki).slice();
}

/** EKPub hash: lowercase hex SHA-256 of the EK public key's PKIX DER. */
export function ekPublicHash(spkiDer: Uint8Array): string {
  return createHash("sha256").update(spkiDer).digest("hex");
}
