// The leaf issuer as it was before x509-leaf.ts: every certificate built by @peculiar/x509.
// Kept for tests (the reference the DER issuer is compared with) and bench/x509-issue.ts.

import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { hex } from "../../../src/crypto/bytes.ts";
import { signingAlgorithm } from "../../../src/crypto/keys.ts";
import type { LeafSpec } from "../../../src/crypto/x509.ts";

x509.cryptoProvider.set(crypto);

export async function issueCertificateWithPeculiar(spec: LeafSpec, serial?: Uint8Array): Promise<string> {
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
  let serialBytes = serial;
  if (!serialBytes) {
    serialBytes = crypto.getRandomValues(new Uint8Array(16));
    serialBytes[0] = serialBytes[0]! & 0x7f;
    if (serialBytes[0] === 0) serialBytes[0] = 1;
  }
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: hex(serialBytes),
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
