// Building certificates: certificate authorities (here, with @peculiar/x509) and the leaves
// they sign (x509-leaf.ts, plain DER + WebCrypto). Server-side only (the agent never signs
// X.509), so the agent's one-shot path does not load @peculiar/x509.

import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { hex } from "./bytes.ts";
import { signingAlgorithm } from "./keys.ts";
import { identityOids } from "./tls-identity.ts";
import { randomSerialBytes } from "./x509-leaf.ts";

x509.cryptoProvider.set(crypto);

const randomSerial = () => hex(randomSerialBytes());

export interface CASpec {
  clusterName: string;
  /** e.g. "host", "user", "db": becomes the CA's OU so the three are told apart. */
  type: string;
  keys: CryptoKeyPair;
  validDays?: number;
  /** URI SANs (the SPIFFE CA: spiffe://<trust domain>, as the X509-SVID spec has signing certificates). */
  uris?: string[];
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
      ...(spec.uris?.length
        ? [
            new x509.SubjectAlternativeNameExtension(
              spec.uris.map((u) => ({ type: "url" as const, value: u })),
            ),
          ]
        : []),
    ],
  });
  return cert.toString("pem");
}

// Leaves are built without @peculiar/x509 (the issuing hot path): see x509-leaf.ts.
export { issueCertificate, type LeafSpec } from "./x509-leaf.ts";
export { identityOids };
