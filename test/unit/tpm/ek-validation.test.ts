// EK certificates from real TPMs (keylime's STMicro RSA and ECC EK certificates) against the
// vendor CA store, the EK identity derivations, and the Nuvoton non-canonical DER case.
import { describe, expect, test } from "bun:test";
import { createHash, createPublicKey } from "node:crypto";
import { readdirSync } from "node:fs";
import {
  describeName,
  ekIdentityFromCertificate,
  ekIdentityFromPublicKey,
  formatCertificateSerial,
  isSignedBy,
  parseAllowedCas,
  readEkCertificate,
  verifyEkChain,
} from "../../../src/tpm/server/index.ts";
import { isCode } from "../../../src/util/errors.ts";
import { vectorsDir } from "../vectors.ts";
import { fromB64, readVectorJson, readVectorText, toHex } from "./vectors.ts";

const ekCerts = readVectorJson("keylime-ek-certs", "ek-certs.json").vectors;
const byId = (id: string) => ekCerts.find((v: any) => v.id === id);
const stmRsa = byId("stm-rsa2048-ek");
const stmEcc = byId("stm-ecc-p256-ek");
const nuvoton = byId("nuvoton-root-2110-noncanonical-der");
const ca = (file: string) => readVectorText("tpm-manufacturer-cas", file);
const wholeStore = readdirSync(vectorsDir("tpm-manufacturer-cas"))
  .filter((f) => f.endsWith(".pem"))
  .map(ca);
// Inside every certificate's validity window, so the vectors do not age.
const now = new Date("2026-11-21T00:00:00Z");

function denied(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(isCode(e, "access_denied")).toBe(true);
    return (e as Error).message;
  }
  throw new Error("expected verification to fail");
}

describe("reading EK certificates", () => {
  test("the STM RSA blob from NV: 0xFF padding after the DER is ignored", () => {
    const raw = fromB64(stmRsa.rawBlobB64);
    expect(raw.length).toBe(stmRsa.rawBlobLength);
    const cert = readEkCertificate(raw);
    expect(cert.der.length).toBe(1169);
    expect(createHash("sha256").update(cert.der).digest("hex")).toBe(stmRsa.certificateDerSha256);
    expect(describeName(cert.issuer)).toBe(stmRsa.issuer);
  });

  test("PEM (text or bytes) and the vendor NV header give the same certificate", () => {
    const der = readEkCertificate(fromB64(stmRsa.rawBlobB64)).der;
    const pem = readVectorText("keylime-ek-certs", stmRsa.pemFile);
    expect(toHex(readEkCertificate(pem).der)).toBe(toHex(der));
    expect(toHex(readEkCertificate(new TextEncoder().encode(pem)).der)).toBe(toHex(der));
    const wrapped = new Uint8Array([
      0x10,
      0x01,
      0x00,
      der.length >> 8,
      der.length & 0xff,
      ...der,
      0xff,
      0xff,
    ]);
    expect(toHex(readEkCertificate(wrapped).der)).toBe(toHex(der));
  });

  test("a header that claims more than is there, and garbage, are refused", () => {
    expect(() => readEkCertificate(Uint8Array.of(0x10, 0x01, 0x00, 0x10, 0x00, 0x30))).toThrow(
      /header says 4096/,
    );
    expect(() => readEkCertificate(Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x01))).toThrow(/not an X.509/);
  });

  for (const v of [stmRsa, stmEcc]) {
    test(`${v.id}: serial and EKPub hash as the reference derives them`, () => {
      const id = ekIdentityFromCertificate(fromB64(v.rawBlobB64));
      expect(id.ekCertSerial).toBe(v.serial.toLowerCase().match(/../g).join(":"));
      const pem = readVectorText("keylime-ek-certs", v.pemFile);
      // Go's x509.MarshalPKIXPublicKey form, here via node:crypto's export of the same key.
      const spki = createPublicKey(pem).export({ type: "spki", format: "der" });
      expect(id.ekPubHash).toBe(createHash("sha256").update(spki).digest("hex"));
      expect(id.ekPubHash).toMatch(/^[0-9a-f]{64}$/);
      expect(ekIdentityFromPublicKey(new Uint8Array(spki)).ekPubHash).toBe(id.ekPubHash);
    });
  }
});

describe("serial notation (reference §6.2)", () => {
  const cases: [string, string][] = [
    ["01abff", "01:ab:ff"],
    ["00ff", "ff"], // the sign byte is not part of the number
    ["0abc", "0a:bc"],
    ["00", "00"],
    ["ff", "01"], // negative (invalid) serial -1: its magnitude, as Go's big.Int.Bytes
  ];
  for (const [content, text] of cases)
    test(`INTEGER ${content} → ${text}`, () => {
      expect(formatCertificateSerial(new Uint8Array(Buffer.from(content, "hex")))).toBe(text);
    });
});

describe("chains to ekcert_allowed_cas (tpm-manufacturer-cas)", () => {
  test("STM RSA EK: its intermediate alone is enough", () => {
    const chain = verifyEkChain(fromB64(stmRsa.rawBlobB64), [ca("STM_RSA_05I.pem")], { now });
    expect(describeName(chain.path[1].subject)).toBe(stmRsa.issuer);
  });

  test("STM RSA EK: the full chain listed (root, STM root, intermediate) verifies", () => {
    verifyEkChain(
      fromB64(stmRsa.rawBlobB64),
      [ca("GS_TPM_RT.pem"), ca("STM_RSA_RT.pem"), ca("STM_RSA_05I.pem")],
      { now },
    );
  });

  test("STM RSA EK: roots only, intermediate missing → refused, saying to list it", () => {
    const message = denied(() =>
      verifyEkChain(fromB64(stmRsa.rawBlobB64), [ca("GS_TPM_RT.pem"), ca("STM_RSA_RT.pem")], { now }),
    );
    expect(message).toContain('issuer "C=CH, O=STMicroelectronics NV, CN=STM TPM EK Intermediate CA 05"');
    expect(message).toContain("an intermediate must be listed itself");
  });

  test("STM ECC EK: intermediate whose root's issuer is not in the store", () => {
    verifyEkChain(fromB64(stmEcc.rawBlobB64), [ca("STM_ECC_01I.pem"), ca("STM_ECC_01RT.pem")], { now });
    denied(() => verifyEkChain(fromB64(stmEcc.rawBlobB64), [ca("STM_ECC_01RT.pem")], { now }));
  });

  test("both STM EKs verify against the whole keylime store (one bundle entry)", () => {
    for (const v of [stmRsa, stmEcc]) verifyEkChain(fromB64(v.rawBlobB64), [wholeStore.join("\n")], { now });
  });

  test("an unrelated vendor's CAs → refused", () => {
    const message = denied(() =>
      verifyEkChain(
        fromB64(stmRsa.rawBlobB64),
        [ca("INTEL_RT.pem"), ca("INTEL_I.pem"), ca("NUVO_2110.pem")],
        { now },
      ),
    );
    expect(message).toContain("not among the 3 certificates");
  });

  test("validity: the EK certificate expired (2028-07-11) or not yet valid", () => {
    const list = [ca("STM_RSA_05I.pem")];
    expect(
      denied(() => verifyEkChain(fromB64(stmRsa.rawBlobB64), list, { now: new Date("2029-01-01Z") })),
    ).toContain("expired at 2028-07-11T00:00:00.000Z");
    expect(
      denied(() => verifyEkChain(fromB64(stmRsa.rawBlobB64), list, { now: new Date("2018-01-01Z") })),
    ).toContain("not valid before 2018-07-11");
  });

  test("a tampered EK certificate fails its signature", () => {
    const raw = fromB64(stmRsa.rawBlobB64);
    const der = readEkCertificate(raw).der.slice();
    der[400]! ^= 0x01; // inside the modulus: still parses
    expect(denied(() => verifyEkChain(der, [ca("STM_RSA_05I.pem")], { now }))).toContain("did not sign it");
  });
});

describe("the vendor CA store itself", () => {
  const store = parseAllowedCas(wholeStore);

  test("every certificate parses, including the OpenSSL text dumps and non-canonical Names", () => {
    const index = readVectorJson("tpm-manufacturer-cas", "INDEX.json");
    expect(store.length).toBe(index.certificates.length);
  });

  test("Nuvoton root 2110 (non-canonical SET order): parses and its self-signature verifies", () => {
    const cert = readEkCertificate(fromB64(nuvoton.rawBlobB64));
    expect(cert.der.length).toBe(nuvoton.rawBlobLength);
    expect(describeName(cert.subject)).toBe(
      "CN=Nuvoton TPM Root CA 2110 + O=Nuvoton Technology Corporation + C=TW",
    );
    expect(isSignedBy(cert, cert)).toBe(true);
    expect(toHex(cert.der)).toBe(toHex(parseAllowedCas([ca("NUVO_2110.pem")])[0]!.der));
  });

  test("issuer signatures the collector recorded verify, SHA-1 ones are refused as weak", () => {
    const index = readVectorJson("tpm-manufacturer-cas", "INDEX.json");
    const byFile = new Map<string, any>(index.certificates.map((c: any) => [c.file, c]));
    const parsed = new Map([...byFile.keys()].map((f) => [f, parseAllowedCas([ca(f)])[0]!] as const));
    let verified = 0;
    let weak = 0;
    for (const [file, meta] of byFile) {
      for (const issuerFile of meta.signatureVerifiesWithIssuerFiles ?? []) {
        const cert = parsed.get(file)!;
        if (meta.signatureAlgorithm.startsWith("sha1")) {
          expect(() => isSignedBy(cert, parsed.get(issuerFile)!)).toThrow(
            /sha1WithRSAEncryption, which is refused/,
          );
          weak++;
        } else {
          expect(isSignedBy(cert, parsed.get(issuerFile)!)).toBe(true);
          verified++;
        }
      }
    }
    expect(verified).toBeGreaterThan(10);
    expect(weak).toBeGreaterThan(0);
  });

  test("a broken allowed-CA entry is a configuration error that names the entry", () => {
    expect(() => parseAllowedCas([ca("GS_TPM_RT.pem"), "no pem here"])).toThrow(
      /ekcert_allowed_cas\[1\] holds no PEM/,
    );
  });
});
