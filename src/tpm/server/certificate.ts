// A tolerant X.509 reader for EK certificates and the CAs that issue them. TPM vendors' EK
// certificates break rules strict parsers enforce (critical SAN directory names, non-canonical
// SET order in Names, padding after the DER), so instead of a general X.509 library we read
// just the fields path validation needs and keep every signed byte exactly as received.

import { children, contentOf, type DerNode, decodeOid, encodingOf, readTlv, Tag } from "../../crypto/der.ts";

export interface Extension {
  oid: string;
  critical: boolean;
  /** The extnValue OCTET STRING's content (the extension's own DER). */
  value: Uint8Array;
}

export interface ParsedCertificate {
  /** The certificate's DER, exactly as received (without any padding that followed it). */
  der: Uint8Array;
  /** The signed part, tbsCertificate, exactly as received. */
  tbs: Uint8Array;
  /** serialNumber INTEGER content octets (two's complement, as encoded). */
  serial: Uint8Array;
  /** Outer signatureAlgorithm: OID and the DER of its parameters (if any). */
  signatureAlgorithm: { oid: string; params?: Uint8Array };
  signature: Uint8Array;
  /** Names as DER, for byte comparison; describeName renders them. */
  issuer: Uint8Array;
  subject: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  /** SubjectPublicKeyInfo DER, as in the certificate. */
  spki: Uint8Array;
  extensions: Extension[];
}

const CONTEXT_0 = 0xa0;
const CONTEXT_3 = 0xa3;

class CertificateError extends Error {}
const bad = (what: string): never => {
  throw new CertificateError(`not an X.509 certificate: bad ${what}`);
};

function expect(node: DerNode | undefined, tag: number, what: string): DerNode {
  if (!node || node.tag !== tag) bad(what);
  return node!;
}

function parseTime(buf: Uint8Array, node: DerNode | undefined, what: string): Date {
  const text = node ? new TextDecoder().decode(contentOf(buf, node)) : "";
  const m =
    node?.tag === Tag.UTC_TIME
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?Z$/.exec(text)
      : node?.tag === Tag.GENERALIZED_TIME
        ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?(?:\.\d+)?Z$/.exec(text)
        : null;
  if (!m) return bad(what);
  let year = Number(m[1]);
  if (node!.tag === Tag.UTC_TIME) year += year < 50 ? 2000 : 1900; // RFC 5280 4.1.2.5.1
  const [month, day, hour, minute, second] = m.slice(2, 7).map((v) => Number(v ?? 0)) as number[];
  return new Date(Date.UTC(year, month! - 1, day!, hour!, minute!, second!));
}

function parseExtensions(buf: Uint8Array, node: DerNode | undefined): Extension[] {
  if (!node) return [];
  const list = expect(children(buf, node)[0], Tag.SEQUENCE, "extensions");
  return children(buf, list).map((ext) => {
    const parts = children(buf, expect(ext, Tag.SEQUENCE, "extension"));
    const id = expect(parts[0], Tag.OID, "extension id");
    const critical =
      parts.length === 3 && parts[1]!.tag === Tag.BOOLEAN && contentOf(buf, parts[1]!)[0] !== 0;
    const value = expect(parts[parts.length - 1], Tag.OCTET_STRING, "extension value");
    return { oid: decodeOid(contentOf(buf, id)), critical, value: contentOf(buf, value).slice() };
  });
}

/**
 * Parse the certificate that starts at the beginning of `der`. Bytes after its outer SEQUENCE
 * (NV padding) are ignored, as go-attestation does.
 */
export function parseCertificate(der: Uint8Array): ParsedCertificate {
  try {
    const outer = expect(readTlv(der), Tag.SEQUENCE, "Certificate");
    const buf = der.slice(0, outer.end);
    const [tbsNode, algNode, sigNode] = children(buf, outer);
    const tbs = expect(tbsNode, Tag.SEQUENCE, "tbsCertificate");
    const alg = children(buf, expect(algNode, Tag.SEQUENCE, "signatureAlgorithm"));
    const sig = contentOf(buf, expect(sigNode, Tag.BIT_STRING, "signature"));
    if (sig[0] !== 0) bad("signature (unused bits)");

    const fields = children(buf, tbs);
    let i = fields[0]?.tag === CONTEXT_0 ? 1 : 0; // [0] version, absent in v1
    const serial = expect(fields[i++], Tag.INTEGER, "serialNumber");
    expect(fields[i++], Tag.SEQUENCE, "signature");
    const issuer = expect(fields[i++], Tag.SEQUENCE, "issuer");
    const validity = children(buf, expect(fields[i++], Tag.SEQUENCE, "validity"));
    const subject = expect(fields[i++], Tag.SEQUENCE, "subject");
    const spki = expect(fields[i++], Tag.SEQUENCE, "subjectPublicKeyInfo");
    const params = alg[1] && alg[1].tag !== Tag.NULL ? encodingOf(buf, alg[1]).slice() : undefined;
    return {
      der: buf,
      tbs: encodingOf(buf, tbs).slice(),
      serial: contentOf(buf, serial).slice(),
      signatureAlgorithm: {
        oid: decodeOid(contentOf(buf, expect(alg[0], Tag.OID, "algorithm"))),
        ...(params ? { params } : {}),
      },
      signature: sig.slice(1),
      issuer: encodingOf(buf, issuer).slice(),
      subject: encodingOf(buf, subject).slice(),
      notBefore: parseTime(buf, validity[0], "notBefore"),
      notAfter: parseTime(buf, validity[1], "notAfter"),
      spki: encodingOf(buf, spki).slice(),
      extensions: parseExtensions(
        buf,
        fields.slice(i).find((f) => f.tag === CONTEXT_3),
      ),
    };
  } catch (e) {
    if (e instanceof CertificateError) throw e;
    throw new CertificateError(`not an X.509 certificate: ${(e as Error).message}`);
  }
}

export const extension = (cert: ParsedCertificate, oid: string): Extension | undefined =>
  cert.extensions.find((e) => e.oid === oid);

/** basicConstraints (2.5.29.19): cA, absent meaning false. */
export function isCa(cert: ParsedCertificate): boolean {
  const ext = extension(cert, "2.5.29.19");
  if (!ext) return false;
  const seq = readTlv(ext.value);
  const first = children(ext.value, seq)[0];
  return first?.tag === Tag.BOOLEAN && contentOf(ext.value, first)[0] !== 0;
}

/** keyUsage (2.5.29.15) keyCertSign bit, or undefined when the extension is absent. */
export function canSignCertificates(cert: ParsedCertificate): boolean | undefined {
  const ext = extension(cert, "2.5.29.15");
  if (!ext) return undefined;
  const bits = contentOf(ext.value, readTlv(ext.value));
  return bits.length >= 2 && (bits[1]! & 0x04) !== 0; // bit 5 of the first octet
}

/** subjectKeyIdentifier (2.5.29.14) / authorityKeyIdentifier keyIdentifier [0] (2.5.29.35). */
export function subjectKeyId(cert: ParsedCertificate): Uint8Array | undefined {
  const ext = extension(cert, "2.5.29.14");
  return ext ? contentOf(ext.value, readTlv(ext.value)) : undefined;
}

export function authorityKeyId(cert: ParsedCertificate): Uint8Array | undefined {
  const ext = extension(cert, "2.5.29.35");
  if (!ext) return undefined;
  const keyId = children(ext.value, readTlv(ext.value)).find((n) => n.tag === 0x80);
  return keyId ? contentOf(ext.value, keyId) : undefined;
}

const attributeNames: Record<string, string> = {
  "2.5.4.3": "CN",
  "2.5.4.5": "serialNumber",
  "2.5.4.6": "C",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
};

/** A Name for messages, in encoded order: "C=CH, O=STMicroelectronics NV, CN=…". */
export function describeName(name: Uint8Array): string {
  try {
    const rdns = children(name, readTlv(name)).map((rdn) =>
      children(name, rdn)
        .map((atv) => {
          const [type, value] = children(name, atv);
          const oid = decodeOid(contentOf(name, type!));
          return `${attributeNames[oid] ?? oid}=${new TextDecoder().decode(contentOf(name, value!))}`;
        })
        .join(" + "),
    );
    return rdns.length > 0 ? rdns.join(", ") : "(empty)";
  } catch {
    return "(unreadable name)";
  }
}
