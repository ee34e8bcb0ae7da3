// A small DER (X.690) writer and reader: just what the leaf certificate issuer needs to build
// a TBSCertificate by hand and to read the few fields it takes from its CA certificate. Only
// low tag numbers (0..30) are supported, which is all X.509 uses.

// ---------------------------------------------------------------------------------------------
// Writing

/** Universal tags (identifier octets, constructed bit included where it applies). */
export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** A freshly written encoding: backed by its own ArrayBuffer, so usable as a BufferSource. */
export type Der = Uint8Array<ArrayBuffer>;

const CONSTRUCTED = 0x20;
const CONTEXT = 0x80;

function lengthOctets(n: number): Der {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`invalid DER length ${n}`);
  if (n < 0x80) return Uint8Array.of(n);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** One TLV: identifier octet `tag`, definite length, then the content octets. */
export function tlv(tag: number, ...content: Uint8Array[]): Der {
  if ((tag & 0x1f) === 0x1f) throw new RangeError("high tag numbers are not supported");
  const body = content.length === 1 ? content[0]! : concat(content);
  const len = lengthOctets(body.length);
  const out = new Uint8Array(1 + len.length + body.length);
  out[0] = tag;
  out.set(len, 1);
  out.set(body, 1 + len.length);
  return out;
}

export const sequence = (...elements: Uint8Array[]): Der => tlv(Tag.SEQUENCE, ...elements);

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** SET OF: DER orders the encoded elements as octet strings (X.690 11.6). */
export const set = (...elements: Uint8Array[]): Der =>
  tlv(Tag.SET, ...(elements.length > 1 ? [...elements].sort(compareBytes) : elements));

/**
 * A non-negative INTEGER from big-endian magnitude bytes: leading zero octets are dropped and
 * one is put back when the top bit is set, so the encoding is minimal and positive.
 */
export function integer(magnitude: Uint8Array): Der {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  const m = magnitude.subarray(i);
  if (m.length === 0) return tlv(Tag.INTEGER, Uint8Array.of(0));
  return (m[0]! & 0x80) !== 0 ? tlv(Tag.INTEGER, Uint8Array.of(0), m) : tlv(Tag.INTEGER, m);
}

const oidCache = new Map<string, Der>();

/** OBJECT IDENTIFIER from its dotted form ("1.2.840.10045.4.3.2"). Encodings are memoised. */
export function oid(dotted: string): Der {
  const cached = oidCache.get(dotted);
  if (cached) return cached;
  if (!/^\d+(\.\d+)+$/.test(dotted)) throw new Error(`invalid OID "${dotted}"`);
  const arcs = dotted.split(".").map(Number);
  const [a, b] = arcs as [number, number];
  if (a > 2 || (a < 2 && b > 39)) throw new Error(`invalid OID "${dotted}"`);
  const out: number[] = [];
  const first = a * 40 + b;
  for (const arc of [first, ...arcs.slice(2)]) {
    if (!Number.isSafeInteger(arc)) throw new Error(`OID arc too large in "${dotted}"`);
    const septets: number[] = [arc % 128];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) septets.unshift(0x80 | (v % 128));
    out.push(...septets);
  }
  const encoded = tlv(Tag.OID, Uint8Array.from(out));
  if (oidCache.size < 256) oidCache.set(dotted, encoded);
  return encoded;
}

const utf8 = new TextEncoder();

export const utf8String = (s: string): Der => tlv(Tag.UTF8_STRING, utf8.encode(s));

/** The PrintableString alphabet (X.680 41.4). */
export const isPrintable = (s: string): boolean => /^[A-Za-z0-9 '()+,\-./:=?]*$/.test(s);

export function printableString(s: string): Der {
  if (!isPrintable(s)) throw new Error(`not a PrintableString: ${JSON.stringify(s)}`);
  return tlv(Tag.PRINTABLE_STRING, utf8.encode(s));
}

export function ia5String(s: string): Der {
  if (!/^[\x00-\x7f]*$/.test(s)) throw new Error(`not an IA5String: ${JSON.stringify(s)}`);
  return tlv(Tag.IA5_STRING, utf8.encode(s));
}

/** BIT STRING whose content is `bytes` with `unusedBits` (0..7) unused bits in the last octet. */
export function bitString(bytes: Uint8Array, unusedBits = 0): Der {
  if (unusedBits < 0 || unusedBits > 7 || (bytes.length === 0 && unusedBits !== 0))
    throw new RangeError("invalid BIT STRING unused bits");
  return tlv(Tag.BIT_STRING, Uint8Array.of(unusedBits), bytes);
}

export const octetString = (bytes: Uint8Array): Der => tlv(Tag.OCTET_STRING, bytes);

export const boolean = (v: boolean): Der => tlv(Tag.BOOLEAN, Uint8Array.of(v ? 0xff : 0x00));

const two = (n: number) => String(n).padStart(2, "0");

function timeDigits(date: Date): { year: number; rest: string } {
  const ms = date.getTime();
  if (Number.isNaN(ms)) throw new RangeError("invalid date");
  const year = date.getUTCFullYear();
  if (year < 0 || year > 9999) throw new RangeError(`year ${year} cannot be encoded`);
  const rest =
    two(date.getUTCMonth() + 1) +
    two(date.getUTCDate()) +
    two(date.getUTCHours()) +
    two(date.getUTCMinutes()) +
    two(date.getUTCSeconds());
  return { year, rest };
}

/** UTCTime YYMMDDHHMMSSZ (seconds kept, fractions dropped: RFC 5280 4.1.2.5.1). */
export function utcTime(date: Date): Der {
  const { year, rest } = timeDigits(date);
  if (year < 1950 || year > 2049) throw new RangeError(`UTCTime covers 1950..2049, not ${year}`);
  return tlv(Tag.UTC_TIME, utf8.encode(`${two(year % 100)}${rest}Z`));
}

/** GeneralizedTime YYYYMMDDHHMMSSZ (no fractional seconds: RFC 5280 4.1.2.5.2). */
export function generalizedTime(date: Date): Der {
  const { year, rest } = timeDigits(date);
  return tlv(Tag.GENERALIZED_TIME, utf8.encode(`${String(year).padStart(4, "0")}${rest}Z`));
}

/** An X.509 Time: UTCTime for 1950 through 2049, GeneralizedTime otherwise (RFC 5280 4.1.2.5). */
export function x509Time(date: Date): Der {
  const year = date.getUTCFullYear();
  return year >= 1950 && year <= 2049 ? utcTime(date) : generalizedTime(date);
}

function contextNumber(n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > 30) throw new RangeError(`context tag [${n}] not supported`);
  return n;
}

/** [n] EXPLICIT: a constructed context-specific wrapper around complete encodings. */
export const explicit = (n: number, ...inner: Uint8Array[]): Der =>
  tlv(CONTEXT | CONSTRUCTED | contextNumber(n), ...inner);

/**
 * [n] IMPLICIT: the encoding `encoded` with its identifier replaced by context tag n, keeping
 * its primitive/constructed form (e.g. implicit(2, ia5String(name)) is a dNSName).
 */
export function implicit(n: number, encoded: Uint8Array): Der {
  if (encoded.length < 2) throw new RangeError("not a DER encoding");
  const out = encoded.slice();
  out[0] = CONTEXT | (encoded[0]! & CONSTRUCTED) | contextNumber(n);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reading

/** One TLV inside a buffer: identifier, header start, content start and end (exclusive). */
export interface DerNode {
  tag: number;
  start: number;
  contentStart: number;
  end: number;
}

/** Read the TLV at `offset`, which must end at or before `limit`. Definite lengths only. */
export function readTlv(buf: Uint8Array, offset = 0, limit = buf.length): DerNode {
  if (offset + 2 > limit) throw new Error("DER: truncated header");
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new Error("DER: high tag numbers are not supported");
  let pos = offset + 1;
  const first = buf[pos++]!;
  let length = first;
  if (first === 0x80) throw new Error("DER: indefinite length");
  if (first > 0x80) {
    const n = first & 0x7f;
    if (n > 4 || pos + n > limit) throw new Error("DER: bad length");
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + buf[pos++]!;
  }
  const end = pos + length;
  if (end > limit) throw new Error("DER: content runs past its container");
  return { tag, start: offset, contentStart: pos, end };
}

/** The TLVs directly inside a constructed node. */
export function children(buf: Uint8Array, node: DerNode): DerNode[] {
  const out: DerNode[] = [];
  for (let at = node.contentStart; at < node.end; ) {
    const child = readTlv(buf, at, node.end);
    out.push(child);
    at = child.end;
  }
  return out;
}

export const contentOf = (buf: Uint8Array, node: DerNode): Uint8Array =>
  buf.subarray(node.contentStart, node.end);

export const encodingOf = (buf: Uint8Array, node: DerNode): Uint8Array => buf.subarray(node.start, node.end);

function expectTag(node: DerNode | undefined, tag: number, what: string): DerNode {
  if (!node || node.tag !== tag) throw new Error(`not an X.509 certificate: bad ${what}`);
  return node;
}

/** What a CA certificate contributes to the leaves it signs. */
export interface CertificateIssuerFields {
  /** The subject Name, complete DER encoding, to be copied verbatim as a leaf's issuer. */
  subject: Uint8Array;
  /** The subjectPublicKey BIT STRING's bits (its content after the unused-bits octet). */
  subjectPublicKey: Uint8Array;
  /** The SubjectKeyIdentifier extension's keyIdentifier, if the certificate has one. */
  subjectKeyIdentifier?: Uint8Array;
}

const SKI_OID = oid("2.5.29.14");

const equalBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && compareBytes(a, b) === 0;

/**
 * Pull the subject, public key bits and SubjectKeyIdentifier out of a certificate's DER
 * (RFC 5280 4.1). The returned arrays are copies, independent of `der`.
 */
export function readCertificateIssuerFields(der: Uint8Array): CertificateIssuerFields {
  const cert = expectTag(readTlv(der), Tag.SEQUENCE, "Certificate");
  if (cert.end !== der.length) throw new Error("not an X.509 certificate: trailing data");
  const tbs = expectTag(children(der, cert)[0], Tag.SEQUENCE, "TBSCertificate");
  const fields = children(der, tbs);
  let i = 0;
  if (fields[i]?.tag === (CONTEXT | CONSTRUCTED | 0)) i++; // version
  expectTag(fields[i++], Tag.INTEGER, "serialNumber");
  expectTag(fields[i++], Tag.SEQUENCE, "signature");
  expectTag(fields[i++], Tag.SEQUENCE, "issuer");
  expectTag(fields[i++], Tag.SEQUENCE, "validity");
  const subject = expectTag(fields[i++], Tag.SEQUENCE, "subject");
  const spki = expectTag(fields[i++], Tag.SEQUENCE, "subjectPublicKeyInfo");
  const spkiParts = children(der, spki);
  const keyBits = expectTag(spkiParts[1], Tag.BIT_STRING, "subjectPublicKey");
  if (keyBits.end - keyBits.contentStart < 1) throw new Error("not an X.509 certificate: empty key");

  let subjectKeyIdentifier: Uint8Array | undefined;
  const extensions = fields.slice(i).find((f) => f.tag === (CONTEXT | CONSTRUCTED | 3));
  if (extensions) {
    const list = expectTag(children(der, extensions)[0], Tag.SEQUENCE, "extensions");
    for (const ext of children(der, list)) {
      const parts = children(der, expectTag(ext, Tag.SEQUENCE, "extension"));
      if (!parts[0] || !equalBytes(encodingOf(der, parts[0]), SKI_OID)) continue;
      const value = expectTag(parts[parts.length - 1], Tag.OCTET_STRING, "extnValue");
      const keyId = readTlv(der, value.contentStart, value.end);
      expectTag(keyId, Tag.OCTET_STRING, "SubjectKeyIdentifier");
      subjectKeyIdentifier = contentOf(der, keyId).slice();
      break;
    }
  }
  return {
    subject: encodingOf(der, subject).slice(),
    subjectPublicKey: der.slice(keyBits.contentStart + 1, keyBits.end),
    ...(subjectKeyIdentifier ? { subjectKeyIdentifier } : {}),
  };
}

/** The dotted form of an OBJECT IDENTIFIER's content octets ("2.5.29.19"). */
export function decodeOid(content: Uint8Array): string {
  if (content.length === 0 || (content[content.length - 1]! & 0x80) !== 0) throw new Error("DER: bad OID");
  const arcs: number[] = [];
  let value = 0;
  for (const byte of content) {
    value = value * 128 + (byte & 0x7f);
    if (!Number.isSafeInteger(value)) throw new Error("DER: OID arc too large");
    if ((byte & 0x80) === 0) {
      arcs.push(value);
      value = 0;
    }
  }
  const first = arcs.shift()!;
  const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
  return [...head, ...arcs].join(".");
}
