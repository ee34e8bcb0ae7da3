// Issuing leaf certificates without an ASN.1 library: the TBSCertificate is written as DER
// directly (der.ts) and signed with WebCrypto. This is tauth's join/renewal hot path, so the
// parts that never change (algorithm identifiers, fixed extensions, what is taken from the CA
// certificate) are encoded once. Certificate authorities themselves are still made by
// @peculiar/x509 in x509.ts; this module does not load it.

import type { webcrypto } from "node:crypto";
import { isIP } from "node:net";
import {
  bitString,
  boolean,
  explicit,
  ia5String,
  implicit,
  integer,
  isPrintable,
  octetString,
  oid,
  printableString,
  readCertificateIssuerFields,
  sequence,
  set,
  utf8String,
  x509Time,
} from "./der.ts";
import { pemDecode, pemEncode } from "./pem.ts";

export interface LeafSpec {
  caCertPem: string;
  caKey: CryptoKey;
  publicKey: CryptoKey;
  notBefore: Date;
  notAfter: Date;
  commonName: string;
  organizations?: string[];
  /** Extra subject attributes keyed by OID (identityOids). */
  attributes?: Record<string, string>;
  usage: "client" | "server" | "client+server";
  dnsNames?: string[];
  ipAddresses?: string[];
  /** URI SANs (an X509-SVID's one SPIFFE ID). */
  uris?: string[];
  /** keyUsage: digitalSignature only (X509-SVID leaves); default digitalSignature|keyEncipherment. */
  signatureOnly?: boolean;
  /** The serial number (randomSerialBytes()); a random one when absent. */
  serial?: Uint8Array;
}

/** 16 random bytes, top bit clear and first octet non-zero: a positive, minimal INTEGER. */
export function randomSerialBytes(): Uint8Array {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[0] = b[0]! & 0x7f;
  if (b[0] === 0) b[0] = 1;
  return b;
}

// --- Fixed pieces ----------------------------------------------------------------------------

const OID = {
  commonName: "2.5.4.3",
  organizationName: "2.5.4.10",
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  authorityKeyIdentifier: "2.5.29.35",
  subjectAltName: "2.5.29.17",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  ed25519: "1.3.101.112",
} as const;

/** Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING } */
const extension = (id: string, critical: boolean, value: Uint8Array): Uint8Array =>
  critical ? sequence(oid(id), boolean(true), octetString(value)) : sequence(oid(id), octetString(value));

const VERSION_3 = explicit(0, integer(Uint8Array.of(2)));
// cA FALSE is the DEFAULT, so the value is an empty SEQUENCE.
const BASIC_CONSTRAINTS_LEAF = extension(OID.basicConstraints, true, sequence());
// digitalSignature (bit 0) | keyEncipherment (bit 2): 1010 0000, five trailing unused bits.
const KEY_USAGE_LEAF = extension(OID.keyUsage, true, bitString(Uint8Array.of(0xa0), 5));
// digitalSignature alone: 1000 0000, seven unused bits.
const KEY_USAGE_SIGNATURE = extension(OID.keyUsage, true, bitString(Uint8Array.of(0x80), 7));
const EXT_KEY_USAGE: Record<LeafSpec["usage"], Uint8Array> = {
  client: extension(OID.extKeyUsage, false, sequence(oid(OID.clientAuth))),
  server: extension(OID.extKeyUsage, false, sequence(oid(OID.serverAuth))),
  "client+server": extension(OID.extKeyUsage, false, sequence(oid(OID.serverAuth), oid(OID.clientAuth))),
};

interface SignatureScheme {
  /** AlgorithmIdentifier, parameters absent (RFC 5758 3.2, RFC 8410 3). */
  algorithmIdentifier: Uint8Array;
  params: webcrypto.Algorithm | webcrypto.EcdsaParams;
  /** WebCrypto ECDSA signatures are r||s and X.509 wants Ecdsa-Sig-Value. */
  ecdsa: boolean;
}

const ECDSA_SHA256: SignatureScheme = {
  algorithmIdentifier: sequence(oid(OID.ecdsaWithSha256)),
  params: { name: "ECDSA", hash: "SHA-256" },
  ecdsa: true,
};
const ED25519: SignatureScheme = {
  algorithmIdentifier: sequence(oid(OID.ed25519)),
  params: { name: "Ed25519" },
  ecdsa: false,
};

function signatureScheme(caKey: CryptoKey): SignatureScheme {
  if (caKey.algorithm.name === "ECDSA") return ECDSA_SHA256;
  if (caKey.algorithm.name === "Ed25519") return ED25519;
  throw new Error(`unsupported CA key algorithm ${caKey.algorithm.name} (ECDSA or Ed25519 expected)`);
}

// --- What comes from the CA certificate, parsed once per PEM ---------------------------------

export interface IssuingCa {
  /** The CA's subject Name DER, the leaf's issuer verbatim. */
  issuer: Uint8Array;
  /** The complete authorityKeyIdentifier extension for its leaves. */
  authorityKeyIdentifier: Uint8Array;
}

const CA_CACHE_LIMIT = 16;
const caCache = new Map<string, Promise<IssuingCa>>();

async function parseIssuingCa(pem: string): Promise<IssuingCa> {
  const fields = readCertificateIssuerFields(pemDecode(pem, "CERTIFICATE"));
  // Without a SubjectKeyIdentifier, RFC 5280 4.2.1.2 method 1: SHA-1 of the key's bits.
  const keyId =
    fields.subjectKeyIdentifier ??
    new Uint8Array(await crypto.subtle.digest("SHA-1", new Uint8Array(fields.subjectPublicKey)));
  return {
    issuer: fields.subject,
    // AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING, ... }
    authorityKeyIdentifier: extension(
      OID.authorityKeyIdentifier,
      false,
      sequence(implicit(0, octetString(keyId))),
    ),
  };
}

/** The CA's issuing fields, from a small cache keyed by the PEM text (least recently used out). */
export function issuingCa(caCertPem: string): Promise<IssuingCa> {
  const hit = caCache.get(caCertPem);
  if (hit) {
    caCache.delete(caCertPem);
    caCache.set(caCertPem, hit);
    return hit;
  }
  const parsed = parseIssuingCa(caCertPem);
  parsed.catch(() => caCache.delete(caCertPem));
  caCache.set(caCertPem, parsed);
  if (caCache.size > CA_CACHE_LIMIT) caCache.delete(caCache.keys().next().value!);
  return parsed;
}

// --- Per-leaf pieces -------------------------------------------------------------------------

/**
 * DirectoryString as @peculiar/x509 chose it for these certificates until now (and as
 * node:crypto reads back either way): PrintableString when the value fits its alphabet,
 * UTF8String otherwise.
 */
const directoryString = (value: string): Uint8Array =>
  isPrintable(value) ? printableString(value) : utf8String(value);

/** RelativeDistinguishedName with one AttributeTypeAndValue. */
const rdn = (type: string, value: string): Uint8Array => set(sequence(oid(type), directoryString(value)));

function subjectName(spec: LeafSpec): Uint8Array {
  // An empty commonName leaves it out (an X509-SVID without a subject template: empty subject).
  const rdns = spec.commonName === "" ? [] : [rdn(OID.commonName, spec.commonName)];
  for (const o of spec.organizations ?? []) rdns.push(rdn(OID.organizationName, o));
  for (const [type, value] of Object.entries(spec.attributes ?? {})) rdns.push(rdn(type, value));
  return sequence(...rdns);
}

/** An iPAddress GeneralName's octets: 4 for IPv4, 16 for IPv6 (RFC 5280 4.2.1.6). */
export function ipAddressBytes(ip: string): Uint8Array {
  const kind = isIP(ip);
  if (kind === 4) return Uint8Array.from(ip.split(".").map(Number));
  if (kind !== 6 || ip.includes("%")) throw new Error(`invalid IP address "${ip}"`);
  const words = (part: string): number[] =>
    part === ""
      ? []
      : part.split(":").flatMap((g) => {
          if (!g.includes(".")) return [Number.parseInt(g, 16)];
          const [a, b, c, d] = g.split(".").map(Number) as [number, number, number, number];
          return [a * 256 + b, c * 256 + d];
        });
  const gap = ip.indexOf("::");
  let all: number[];
  if (gap < 0) all = words(ip);
  else {
    const head = words(ip.slice(0, gap));
    const tail = words(ip.slice(gap + 2));
    all = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  }
  if (all.length !== 8 || all.some((w) => !(w >= 0 && w <= 0xffff)))
    throw new Error(`invalid IP address "${ip}"`);
  const out = new Uint8Array(16);
  all.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}

function subjectAltName(
  dnsNames: string[],
  ipAddresses: string[],
  uris: string[] = [],
  critical = false,
): Uint8Array {
  const names = [
    ...uris.map((u) => implicit(6, ia5String(u))), // uniformResourceIdentifier [6] IA5String
    ...dnsNames.map((d) => implicit(2, ia5String(d))), // dNSName [2] IA5String
    ...ipAddresses.map((ip) => implicit(7, octetString(ipAddressBytes(ip)))), // iPAddress [7]
  ];
  // RFC 5280 4.2.1.6: critical when the subject is empty.
  return extension(OID.subjectAltName, critical, sequence(...names));
}

/** IEEE P1363 r||s (what WebCrypto returns) to Ecdsa-Sig-Value ::= SEQUENCE { r, s INTEGER }. */
export function ecdsaSignatureToDer(p1363: Uint8Array): Uint8Array {
  if (p1363.length === 0 || p1363.length % 2 !== 0) throw new Error("malformed ECDSA signature");
  const half = p1363.length / 2;
  return sequence(integer(p1363.subarray(0, half)), integer(p1363.subarray(half)));
}

/** Sign a leaf certificate with the CA's key; the result is a PEM "CERTIFICATE" block. */
export async function issueCertificate(spec: LeafSpec): Promise<string> {
  const scheme = signatureScheme(spec.caKey);
  const eku = EXT_KEY_USAGE[spec.usage];
  if (!eku) throw new Error(`unknown certificate usage "${spec.usage}"`);
  const [ca, spki] = await Promise.all([
    issuingCa(spec.caCertPem),
    crypto.subtle.exportKey("spki", spec.publicKey),
  ]);
  const keyUsage = spec.signatureOnly ? KEY_USAGE_SIGNATURE : KEY_USAGE_LEAF;
  const extensions = [BASIC_CONSTRAINTS_LEAF, keyUsage, eku, ca.authorityKeyIdentifier];
  const dnsNames = spec.dnsNames ?? [];
  const ipAddresses = spec.ipAddresses ?? [];
  const uris = spec.uris ?? [];
  if (dnsNames.length || ipAddresses.length || uris.length)
    extensions.push(
      subjectAltName(
        dnsNames,
        ipAddresses,
        uris,
        spec.commonName === "" && !spec.organizations?.length && !Object.keys(spec.attributes ?? {}).length,
      ),
    );

  const tbs = sequence(
    VERSION_3,
    integer(spec.serial ?? randomSerialBytes()),
    scheme.algorithmIdentifier,
    ca.issuer,
    sequence(x509Time(spec.notBefore), x509Time(spec.notAfter)),
    subjectName(spec),
    new Uint8Array(spki),
    explicit(3, sequence(...extensions)),
  );
  const raw = new Uint8Array(await crypto.subtle.sign(scheme.params, spec.caKey, tbs));
  const signature = scheme.ecdsa ? ecdsaSignatureToDer(raw) : raw;
  return pemEncode("CERTIFICATE", sequence(tbs, scheme.algorithmIdentifier, bitString(signature)));
}
