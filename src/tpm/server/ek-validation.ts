// The EK as the server sees it (reference §6.2, §6.5 steps 2–3): the identity a token's allow
// rules name (EKPub hash, certificate serial), and whether the EK certificate chains to the
// CAs a token lists in spec.tpm.ekcert_allowed_cas.
//
// Trust semantics of ekcert_allowed_cas. Every listed certificate is a trust anchor: the
// operator vouches for each one by listing it, whether it is a vendor root or an intermediate
// (as keylime's store, Go's x509 Roots pool and `openssl verify -partial_chain` treat them).
// The client sends only its EK certificate, so a chain can only be made of listed
// certificates, and its first listed certificate already ends it: the path is
// EK → listed issuer. Consequences an operator should know:
//   - listing an intermediate (alone or with its root) is enough, and is needed: listing only
//     the root of an EK issued by an intermediate fails, since nothing carries the EK to it;
//   - a listed intermediate whose own issuer is absent (STM's ECC root, issued by a GlobalSign
//     root few stores carry) still works;
//   - the issuing certificate must be valid now and a CA (basicConstraints cA, keyCertSign
//     when keyUsage is present); the EK certificate must be valid now and its signature must
//     verify with the issuer's key (RSA PKCS#1 v1.5 or PSS, ECDSA; SHA-256/384/512 — SHA-1
//     and MD5 signatures are refused, as Go's x509 does);
//   - the EK certificate's own extensions are not judged: EKUs (any is accepted, including
//     the TCG 2.23.133.8.1), critical SAN directory names and other critical extensions that
//     TPM vendors use are tolerated, as the reference does.
// An issuer is found by Name (the DER bytes, which is how vendors' certificates match even
// with non-canonical SET order) or, failing that, by the EK's authorityKeyIdentifier equal to
// a listed subjectKeyIdentifier; the signature is what decides.

import { constants, createHash, createPublicKey, verify as verifySignature } from "node:crypto";
import { children, contentOf, decodeOid, readTlv } from "../../crypto/der.ts";
import { pemBlocks } from "../../crypto/pem.ts";
import { accessDenied, badParameter } from "../../util/errors.ts";
import { encodeSpki, parseSpki } from "../structures/spki.ts";
import {
  authorityKeyId,
  canSignCertificates,
  describeName,
  isCa,
  type ParsedCertificate,
  parseCertificate,
  subjectKeyId,
} from "./certificate.ts";

/** What the allow rules compare (reference §6.2). */
export interface EkIdentity {
  /** The EK public key as PKIX DER, re-encoded the way Go's x509.MarshalPKIXPublicKey writes it. */
  spki: Uint8Array;
  /** Lowercase hex SHA-256 of `spki`. */
  ekPubHash: string;
  /** "01:ab:ff": set when the EK came with a certificate. */
  ekCertSerial?: string;
  certificate?: ParsedCertificate;
}

/** Some vendors store the certificate behind a header: 0x10 0x01 0x00, then a big-endian u16 length. */
const VENDOR_HEADER = [0x10, 0x01, 0x00];

/**
 * Read an EK certificate as a client may send it: PEM, or DER straight from the TPM's NV index
 * (with the vendor header, and with 0xFF padding after the certificate).
 */
export function readEkCertificate(input: Uint8Array | string): ParsedCertificate {
  const text =
    typeof input === "string"
      ? input
      : Buffer.from(input.subarray(0, 11)).toString("latin1") === "-----BEGIN "
        ? new TextDecoder().decode(input)
        : undefined;
  let der: Uint8Array;
  if (text !== undefined) {
    const block = pemBlocks(text).find((b) => b.label === "CERTIFICATE");
    if (!block) throw badParameter("the EK certificate is PEM without a CERTIFICATE block");
    der = block.der;
  } else {
    der = input as Uint8Array;
    if (der.length >= 5 && VENDOR_HEADER.every((b, i) => der[i] === b)) {
      const length = (der[3]! << 8) | der[4]!;
      if (5 + length > der.length)
        throw badParameter(
          `the EK certificate header says ${length} bytes, but only ${der.length - 5} follow`,
        );
      der = der.subarray(5, 5 + length);
    }
  }
  // An erased or never-written NV index reads as 0xFF bytes: say so rather than report a DER detail.
  if (der[0] !== 0x30)
    throw badParameter("the EK certificate is not DER (no SEQUENCE at the start; an empty NV index?)");
  try {
    return parseCertificate(der);
  } catch (e) {
    throw badParameter(`the EK certificate cannot be read: ${(e as Error).message}`);
  }
}

/** The PKIX DER in the canonical form the EKPub hash is taken over. */
function canonicalSpki(spki: Uint8Array, what: string): Uint8Array {
  try {
    return encodeSpki(parseSpki(spki));
  } catch (e) {
    throw badParameter(`${what}: ${(e as Error).message}`);
  }
}

/** EKPub hash: lowercase hex SHA-256 over the PKIX DER of the EK public key. */
export const ekPublicHash = (spki: Uint8Array): string =>
  createHash("sha256").update(canonicalSpki(spki, "EK public key")).digest("hex");

/**
 * The serial as the reference writes it: the unsigned big-endian number in lowercase hex,
 * padded to whole bytes, bytes separated by ":". A negative serial (invalid, seen in the wild)
 * is written as its magnitude, as Go's big.Int.Bytes does; zero is "00".
 */
export function formatCertificateSerial(serialContent: Uint8Array): string {
  let n = BigInt(`0x${Buffer.from(serialContent).toString("hex") || "0"}`);
  if (serialContent.length > 0 && serialContent[0]! & 0x80) n = (1n << BigInt(serialContent.length * 8)) - n;
  const digits = n.toString(16);
  return (digits.length % 2 ? `0${digits}` : digits).match(/../g)!.join(":");
}

/** The identity of an EK presented by its certificate (`ek_cert`). */
export function ekIdentityFromCertificate(input: Uint8Array | string | ParsedCertificate): EkIdentity {
  const certificate =
    input instanceof Uint8Array || typeof input === "string" ? readEkCertificate(input) : input;
  const spki = canonicalSpki(certificate.spki, "the EK certificate's public key");
  return {
    spki,
    ekPubHash: createHash("sha256").update(spki).digest("hex"),
    ekCertSerial: formatCertificateSerial(certificate.serial),
    certificate,
  };
}

/** The identity of an EK presented as a PKIX public key (`ek_key`). */
export function ekIdentityFromPublicKey(spkiDer: Uint8Array): EkIdentity {
  const spki = canonicalSpki(spkiDer, "the EK public key");
  return { spki, ekPubHash: createHash("sha256").update(spki).digest("hex") };
}

/** The certificates of spec.tpm.ekcert_allowed_cas (each entry may hold several PEM blocks). */
export function parseAllowedCas(pems: readonly string[]): ParsedCertificate[] {
  return pems.flatMap((pem, i) => {
    const blocks = pemBlocks(pem).filter((b) => b.label === "CERTIFICATE");
    if (blocks.length === 0) throw badParameter(`spec.tpm.ekcert_allowed_cas[${i}] holds no PEM certificate`);
    return blocks.map((b) => {
      try {
        return parseCertificate(b.der);
      } catch (e) {
        throw badParameter(`spec.tpm.ekcert_allowed_cas[${i}]: ${(e as Error).message}`);
      }
    });
  });
}

// Signature algorithms (RFC 4055, RFC 5758) → the node:crypto hash and the key type they need.
const signatureAlgorithms: Record<string, { hash: string; key: "rsa" | "ec" }> = {
  "1.2.840.113549.1.1.11": { hash: "sha256", key: "rsa" },
  "1.2.840.113549.1.1.12": { hash: "sha384", key: "rsa" },
  "1.2.840.113549.1.1.13": { hash: "sha512", key: "rsa" },
  "1.2.840.10045.4.3.2": { hash: "sha256", key: "ec" },
  "1.2.840.10045.4.3.3": { hash: "sha384", key: "ec" },
  "1.2.840.10045.4.3.4": { hash: "sha512", key: "ec" },
};
const weakAlgorithms: Record<string, string> = {
  "1.2.840.113549.1.1.4": "md5WithRSAEncryption",
  "1.2.840.113549.1.1.5": "sha1WithRSAEncryption",
  "1.2.840.10045.4.1": "ecdsa-with-SHA1",
};
const RSASSA_PSS = "1.2.840.113549.1.1.10";
const MGF1 = "1.2.840.113549.1.1.8";
const hashOids: Record<string, string> = {
  "2.16.840.1.101.3.4.2.1": "sha256",
  "2.16.840.1.101.3.4.2.2": "sha384",
  "2.16.840.1.101.3.4.2.3": "sha512",
};

/** RSASSA-PSS-params (RFC 4055 §3.1): only SHA-2 with MGF1 of the same hash. */
function pssParams(params: Uint8Array | undefined): { hash: string; saltLength: number } {
  if (!params) throw new Error("RSASSA-PSS without parameters means SHA-1, which is refused");
  let hash: string | undefined;
  let mgfHash: string | undefined;
  let saltLength = 20;
  for (const field of children(params, readTlv(params))) {
    const inner = readTlv(params, field.contentStart, field.end);
    if (field.tag === 0xa0) hash = hashOids[decodeOid(contentOf(params, children(params, inner)[0]!))];
    if (field.tag === 0xa1) {
      const [mgf, mgfParams] = children(params, inner);
      if (decodeOid(contentOf(params, mgf!)) !== MGF1 || !mgfParams)
        throw new Error("RSASSA-PSS with an unknown mask generation function");
      mgfHash = hashOids[decodeOid(contentOf(params, children(params, mgfParams)[0]!))];
    }
    if (field.tag === 0xa2)
      saltLength = Number(BigInt(`0x${Buffer.from(contentOf(params, inner)).toString("hex")}`));
  }
  if (!hash || hash !== mgfHash)
    throw new Error("RSASSA-PSS must use SHA-256/384/512 for both the hash and MGF1");
  return { hash, saltLength };
}

/** Does `issuer`'s key verify `cert`'s signature? Throws for algorithms we refuse. */
export function isSignedBy(cert: ParsedCertificate, issuer: ParsedCertificate): boolean {
  const { oid, params } = cert.signatureAlgorithm;
  if (weakAlgorithms[oid])
    throw new Error(`it is signed with ${weakAlgorithms[oid]}, which is refused as weak`);
  const pss = oid === RSASSA_PSS ? pssParams(params) : undefined;
  const alg = pss ? { hash: pss.hash, key: "rsa" } : signatureAlgorithms[oid];
  if (!alg) throw new Error(`its signature algorithm ${oid} is not supported`);
  try {
    const key = createPublicKey({ key: Buffer.from(issuer.spki), format: "der", type: "spki" });
    if (key.asymmetricKeyType !== alg.key) return false;
    const verifyKey = pss
      ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: pss.saltLength }
      : key;
    return verifySignature(alg.hash, cert.tbs, verifyKey, cert.signature);
  } catch {
    return false; // a key or signature that does not even decode verifies nothing
  }
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);

function validityProblem(cert: ParsedCertificate, now: Date, role: string): string | undefined {
  if (now < cert.notBefore) return `${role} is not valid before ${cert.notBefore.toISOString()}`;
  if (now > cert.notAfter) return `${role} expired at ${cert.notAfter.toISOString()}`;
  return undefined;
}

export interface EkChain {
  /** The EK certificate, then the listed certificate that issued it. */
  path: [ParsedCertificate, ParsedCertificate];
}

/**
 * Verify that the EK certificate was issued by one of `allowedCasPem` (see the trust semantics
 * at the top of this file). Throws an access-denied error that says why not.
 */
export function verifyEkChain(
  ekCert: ParsedCertificate | Uint8Array | string,
  allowedCasPem: readonly string[],
  options: { now?: Date } = {},
): EkChain {
  const ek = ekCert instanceof Uint8Array || typeof ekCert === "string" ? readEkCertificate(ekCert) : ekCert;
  const anchors = parseAllowedCas(allowedCasPem);
  const now = options.now ?? new Date();
  const fail = (why: string): never => {
    throw accessDenied(`EK certificate verification failed: ${why}`);
  };
  const issuerName = describeName(ek.issuer);
  const ekProblem = validityProblem(ek, now, "the EK certificate");
  if (ekProblem) fail(ekProblem);

  const akid = authorityKeyId(ek);
  const candidates = anchors.filter((ca) => {
    if (sameBytes(ca.subject, ek.issuer)) return true;
    const skid = subjectKeyId(ca);
    return akid !== undefined && skid !== undefined && sameBytes(akid, skid);
  });
  if (candidates.length === 0)
    fail(
      `its issuer "${issuerName}" is not among the ${anchors.length} certificates of spec.tpm.ekcert_allowed_cas; ` +
        "list the CA that issued the EK certificate (an intermediate must be listed itself, its root alone is not enough)",
    );

  const problems: string[] = [];
  for (const ca of candidates) {
    const role = `the listed CA "${describeName(ca.subject)}"`;
    let signed = false;
    try {
      signed = isSignedBy(ek, ca);
    } catch (e) {
      fail(`the EK certificate cannot be checked: ${(e as Error).message}`);
    }
    if (!signed) {
      problems.push(`${role} did not sign it`);
      continue;
    }
    const problem =
      validityProblem(ca, now, role) ??
      (!isCa(ca) ? `${role} is not a CA (basicConstraints cA is not set)` : undefined) ??
      (canSignCertificates(ca) === false
        ? `${role} may not sign certificates (keyUsage lacks keyCertSign)`
        : undefined);
    if (problem) {
      problems.push(problem);
      continue;
    }
    return { path: [ek, ca] };
  }
  return fail(`issued by "${issuerName}", but ${problems.join("; ")}`);
}

export { describeName, type ParsedCertificate } from "./certificate.ts";
