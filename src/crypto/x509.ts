// Building certificates: certificate authorities and the leaves they sign. Server-side only
// (the agent never signs X.509), so the agent's one-shot path does not load @peculiar/x509.

import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { hex } from "./bytes.ts";
import { signingAlgorithm } from "./keys.ts";
import { identityOids } from "./tls-identity.ts";

x509.cryptoProvider.set(crypto);

const randomSerial = () => {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[0] = b[0]! & 0x7f; // positive INTEGER
  if (b[0] === 0) b[0] = 1;
  return hex(b);
};

export interface CASpec {
  clusterName: string;
  /** e.g. "host", "user", "db": becomes the CA's OU so the three are told apart. */
  type: string;
  keys: CryptoKeyPair;
  validDays?: number;
}

export async function createCACertificate(spec: CASpec): Promise<string> {
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [
      { "2.5.4.10": [spec.clusterName] },
      { "2.5.4.11": [spec.type] },
      { "2.5.4.3": [spec.clusterName] },
    ],
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + (spec.validDays ?? 3650) * 86_400_000),
    keys: spec.keys,
    signingAlgorithm: signingAlgorithm(spec.keys.privateKey),
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(spec.keys.publicKey),
    ],
  });
  return cert.toString("pem");
}

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
}

export async function issueCertificate(spec: LeafSpec): Promise<string> {
  const ca = new x509.X509Certificate(spec.caCertPem);
  const subject: x509.JsonName = [{ "2.5.4.3": [spec.commonName] }];
  for (const o of spec.organizations ?? []) subject.push({ "2.5.4.10": [o] });
  for (const [oid, v] of Object.entries(spec.attributes ?? {})) subject.push({ [oid]: [v] });
  const eku =
    spec.usage === "client"
      ? [x509.ExtendedKeyUsage.clientAuth]
      : spec.usage === "server"
        ? [x509.ExtendedKeyUsage.serverAuth]
        : [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth];
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(
      x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
      true,
    ),
    new x509.ExtendedKeyUsageExtension(eku),
    await x509.AuthorityKeyIdentifierExtension.create(ca, false),
  ];
  const names: x509.JsonGeneralName[] = [
    ...(spec.dnsNames ?? []).map((d) => ({ type: "dns" as const, value: d })),
    ...(spec.ipAddresses ?? []).map((ip) => ({ type: "ip" as const, value: ip })),
  ];
  if (names.length) extensions.push(new x509.SubjectAlternativeNameExtension(names));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject,
    issuer: ca.subjectName,
    notBefore: spec.notBefore,
    notAfter: spec.notAfter,
    publicKey: spec.publicKey,
    signingKey: spec.caKey,
    signingAlgorithm: signingAlgorithm(spec.caKey),
    extensions,
  });
  return cert.toString("pem");
}

export { identityOids };
