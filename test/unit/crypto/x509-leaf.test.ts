// Leaf certificates from the DER issuer (x509-leaf.ts), with OpenSSL and node:crypto as the
// oracles, and compared byte for byte with what @peculiar/x509 built before (peculiar-leaf.ts).

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, createPublicKey, verify as nodeVerify, X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { spawnSync } from "bun";
import { children, contentOf, encodingOf, readTlv } from "../../../src/crypto/der.ts";
import { generateKeyPair, type KeyAlgorithm } from "../../../src/crypto/keys.ts";
import { pemDecode } from "../../../src/crypto/pem.ts";
import { parseTlsIdentity } from "../../../src/crypto/tls-identity.ts";
import {
  createCACertificate,
  identityOids,
  issueCertificate,
  type LeafSpec,
} from "../../../src/crypto/x509.ts";
import { ecdsaSignatureToDer, ipAddressBytes, issuingCa } from "../../../src/crypto/x509-leaf.ts";
import { issueCertificateWithPeculiar } from "./peculiar-leaf.ts";

const dir = mkdtempSync(join(tmpdir(), "x509-leaf-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let fileNo = 0;
function file(text: string): string {
  const path = join(dir, `f${fileNo++}.pem`);
  writeFileSync(path, text);
  return path;
}

function openssl(...args: string[]): string {
  const r = spawnSync(["openssl", ...args], { env: { ...process.env, TZ: "UTC" } });
  const out = r.stdout.toString() + r.stderr.toString();
  if (r.exitCode !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${out}`);
  return out;
}

/** `openssl verify` of leaf against ca; returns its output (throws when it fails). */
const opensslVerify = (caPem: string, leafPem: string, ...extra: string[]) =>
  openssl("verify", ...extra, "-CAfile", file(caPem), file(leafPem)).trim();

/** The line after `heading` in `openssl x509 -text` (extension values sit on the next line). */
function textValue(text: string, heading: string): string {
  const lines = text.split("\n");
  const i = lines.findIndex((l) => l.trim().startsWith(heading));
  if (i < 0) throw new Error(`no "${heading}" in:\n${text}`);
  const rest = lines[i]!.trim().slice(heading.length).replace(/^:\s*/, "").trim();
  return rest && rest !== "critical" ? rest : lines[i + 1]!.trim();
}

const certDer = (pem: string) => pemDecode(pem, "CERTIFICATE");

/** TBSCertificate DER and its serialNumber's content octets. */
function tbsOf(pem: string): { tbs: Uint8Array; serial: Uint8Array } {
  const der = certDer(pem);
  const tbs = children(der, readTlv(der))[0]!;
  const serial = children(der, tbs)[1]!;
  expect(serial.tag).toBe(0x02);
  return { tbs: encodingOf(der, tbs), serial: contentOf(der, serial) };
}

const hexColons = (bytes: Uint8Array) =>
  Buffer.from(bytes).toString("hex").toUpperCase().match(/../g)!.join(":");

interface Ca {
  alg: KeyAlgorithm;
  keys: CryptoKeyPair;
  pem: string;
  node: X509Certificate;
  /** The CA's SubjectKeyIdentifier as openssl prints it. */
  ski: string;
}

async function makeCa(alg: KeyAlgorithm, validDays?: number): Promise<Ca> {
  const keys = await generateKeyPair(alg);
  const pem = await createCACertificate({ clusterName: "example", type: "user", keys, validDays });
  const ski = textValue(
    openssl("x509", "-in", file(pem), "-noout", "-text"),
    "X509v3 Subject Key Identifier",
  );
  return { alg, keys, pem, node: new X509Certificate(pem), ski };
}

const cas: Partial<Record<KeyAlgorithm, Ca>> = {};
beforeAll(async () => {
  cas["ecdsa-p256"] = await makeCa("ecdsa-p256");
  cas.ed25519 = await makeCa("ed25519");
});

const instanceId = "0b9f1c2e-5d47-4e0a-9c55-1f2d3e4a5b6c";

async function leafSpec(ca: Ca, usage: LeafSpec["usage"], over: Partial<LeafSpec> = {}): Promise<LeafSpec> {
  const leafKeys = await generateKeyPair("ecdsa-p256");
  const now = Date.now();
  return {
    caCertPem: ca.pem,
    caKey: ca.keys.privateKey,
    publicKey: leafKeys.publicKey,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 3_600_000),
    commonName: "bot-robot",
    organizations: ["access", "editor"],
    attributes: {
      [identityOids.generation]: "7",
      [identityOids.renewable]: "true",
      [identityOids.botName]: "robot_one", // "_" is outside PrintableString: UTF8String
      [identityOids.botInstanceId]: instanceId,
    },
    usage,
    dnsNames: ["localhost", "*.teleport.cluster.local"],
    ipAddresses: ["127.0.0.1", "::1", "2001:db8::7"],
    ...over,
  };
}

const expectedSubject =
  "CN = bot-robot, O = access, O = editor, 1.3.9999.1.14 = 7, 1.3.9999.1.13 = true, " +
  `1.3.9999.2.18 = robot_one, 1.3.9999.2.20 = ${instanceId}`;
const expectedSan =
  "DNS:localhost, DNS:*.teleport.cluster.local, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, " +
  "IP Address:2001:DB8:0:0:0:0:0:7";
const expectedEku: Record<LeafSpec["usage"], string> = {
  client: "TLS Web Client Authentication",
  server: "TLS Web Server Authentication",
  "client+server": "TLS Web Server Authentication, TLS Web Client Authentication",
};
const purposes: Record<LeafSpec["usage"], string[]> = {
  client: ["sslclient"],
  server: ["sslserver"],
  "client+server": ["sslclient", "sslserver"],
};

const withoutSerial = (id: ReturnType<typeof parseTlsIdentity>) => ({ ...id, serial: undefined });

for (const alg of ["ecdsa-p256", "ed25519"] as const) {
  describe(`${alg} CA`, () => {
    for (const usage of ["client", "server", "client+server"] as const) {
      test(`${usage} leaf: openssl, node:crypto and the old issuer agree`, async () => {
        const ca = cas[alg]!;
        const spec = await leafSpec(ca, usage);
        const pem = await issueCertificate(spec);
        expect(pem).toMatch(/^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----\n$/);

        // OpenSSL: chain and purpose (EKU) verification, then the fields as it prints them.
        expect(opensslVerify(ca.pem, pem)).toEndWith(": OK");
        for (const purpose of purposes[usage])
          expect(opensslVerify(ca.pem, pem, "-purpose", purpose)).toEndWith(": OK");
        const text = openssl("x509", "-in", file(pem), "-noout", "-text");
        expect(textValue(text, "Version")).toBe("3 (0x2)");
        expect(textValue(text, "Signature Algorithm")).toBe(
          alg === "ed25519" ? "ED25519" : "ecdsa-with-SHA256",
        );
        expect(textValue(text, "Issuer")).toBe("O = example, OU = user, CN = example");
        expect(textValue(text, "Subject")).toBe(expectedSubject);
        expect(textValue(text, "X509v3 Subject Alternative Name")).toBe(expectedSan);
        expect(textValue(text, "X509v3 Extended Key Usage")).toBe(expectedEku[usage]);
        expect(textValue(text, "X509v3 Key Usage")).toBe("Digital Signature, Key Encipherment");
        expect(text).toContain("X509v3 Key Usage: critical");
        expect(textValue(text, "X509v3 Basic Constraints")).toBe("CA:FALSE");
        expect(text).toContain("X509v3 Basic Constraints: critical");
        expect(textValue(text, "X509v3 Authority Key Identifier")).toBe(ca.ski);

        // node:crypto, which tauth and tbot use to read certificates.
        const leaf = new X509Certificate(pem);
        expect(leaf.checkIssued(ca.node)).toBe(true);
        expect(leaf.verify(ca.node.publicKey)).toBe(true);
        expect(leaf.ca).toBe(false);

        // The same spec through @peculiar/x509 with the same serial: identical TBSCertificate.
        const mine = tbsOf(pem);
        const old = await issueCertificateWithPeculiar(spec, mine.serial);
        expect(Buffer.from(mine.tbs).equals(Buffer.from(tbsOf(old).tbs))).toBe(true);
        const oldLeaf = new X509Certificate(old);
        expect(leaf.subject).toBe(oldLeaf.subject);
        expect(leaf.issuer).toBe(oldLeaf.issuer);
        expect(leaf.subjectAltName).toBe(oldLeaf.subjectAltName!);
        expect(leaf.keyUsage).toEqual(oldLeaf.keyUsage);
        expect(parseTlsIdentity(pem)).toEqual(parseTlsIdentity(old));
        expect(withoutSerial(parseTlsIdentity(pem))).toEqual({
          username: "bot-robot",
          roles: ["access", "editor"],
          clusterName: "example",
          renewable: true,
          generation: 7,
          disallowReissue: false,
          botName: "robot_one",
          botInstanceId: instanceId,
          systemRole: undefined,
          notBefore: new Date(Math.floor(spec.notBefore.getTime() / 1000) * 1000),
          notAfter: new Date(Math.floor(spec.notAfter.getTime() / 1000) * 1000),
          serial: undefined,
        });
      });
    }

    test("no SANs, no organizations, non-ASCII and system-role attributes: same as the old issuer", async () => {
      const ca = cas[alg]!;
      const spec = await leafSpec(ca, "client", {
        commonName: "admin",
        organizations: [],
        attributes: {
          [identityOids.generation]: "0",
          [identityOids.disallowReissue]: "true",
          [identityOids.systemRole]: "Admin",
          [identityOids.botName]: "röbot ✓",
        },
        dnsNames: undefined,
        ipAddresses: [],
      });
      const pem = await issueCertificate(spec);
      expect(opensslVerify(ca.pem, pem)).toEndWith(": OK");
      const text = openssl("x509", "-in", file(pem), "-noout", "-text");
      expect(text).not.toContain("Subject Alternative Name");
      const mine = tbsOf(pem);
      const old = await issueCertificateWithPeculiar(spec, mine.serial);
      expect(Buffer.from(mine.tbs).equals(Buffer.from(tbsOf(old).tbs))).toBe(true);
      const id = parseTlsIdentity(pem);
      expect(id).toEqual(parseTlsIdentity(old));
      expect(id.systemRole).toBe("Admin");
      expect(id.disallowReissue).toBe(true);
      expect(id.roles).toEqual([]);
      expect(id.botName).toBe("röbot ✓");
    });

    test("an Ed25519 subject key", async () => {
      const ca = cas[alg]!;
      const subjectKeys = await generateKeyPair("ed25519");
      const spec = await leafSpec(ca, "client", { publicKey: subjectKeys.publicKey });
      const pem = await issueCertificate(spec);
      expect(opensslVerify(ca.pem, pem)).toEndWith(": OK");
      const leaf = new X509Certificate(pem);
      expect(leaf.publicKey.asymmetricKeyType).toBe("ed25519");
      expect(leaf.verify(ca.node.publicKey)).toBe(true);
    });

    test("dates from 2050 are GeneralizedTime and still verify", async () => {
      // A CA valid until ~2076 so a leaf living in 2050..2060 chains at a time inside both.
      const ca = await makeCa(alg, 50 * 365);
      const notBefore = new Date("2049-12-31T23:59:59.250Z");
      const notAfter = new Date("2060-06-15T12:34:56.789Z");
      const spec = await leafSpec(ca, "client+server", { notBefore, notAfter });
      const pem = await issueCertificate(spec);
      const asn1 = openssl("asn1parse", "-in", file(pem));
      expect(asn1).toMatch(/UTCTIME\s+:491231235959Z/);
      expect(asn1).toMatch(/GENERALIZEDTIME\s+:20600615123456Z/);
      const at2055 = String(Date.UTC(2055, 0, 1) / 1000);
      expect(opensslVerify(ca.pem, pem, "-attime", at2055)).toEndWith(": OK");
      const leaf = new X509Certificate(pem);
      expect(leaf.checkIssued(ca.node)).toBe(true);
      expect(leaf.verify(ca.node.publicKey)).toBe(true);
      const id = parseTlsIdentity(pem);
      expect(id.notBefore.toISOString()).toBe("2049-12-31T23:59:59.000Z");
      expect(id.notAfter.toISOString()).toBe("2060-06-15T12:34:56.000Z");

      // Entirely after 2050: both times GeneralizedTime.
      const later = await leafSpec(ca, "client", {
        notBefore: new Date("2050-01-01T00:00:00Z"),
        notAfter: new Date("2051-01-01T00:00:00Z"),
      });
      const laterPem = await issueCertificate(later);
      const laterAsn1 = openssl("asn1parse", "-in", file(laterPem));
      expect(laterAsn1).toMatch(/GENERALIZEDTIME\s+:20500101000000Z/);
      expect(laterAsn1).toMatch(/GENERALIZEDTIME\s+:20510101000000Z/);
      expect(laterAsn1).not.toContain("UTCTIME");
      expect(opensslVerify(ca.pem, laterPem, "-attime", String(Date.UTC(2050, 6, 1) / 1000))).toEndWith(
        ": OK",
      );
      const mine = tbsOf(laterPem);
      const old = await issueCertificateWithPeculiar(later, mine.serial);
      expect(Buffer.from(mine.tbs).equals(Buffer.from(tbsOf(old).tbs))).toBe(true);

      // Valid now and past 2050: verifies today, with no -attime.
      const now = await leafSpec(ca, "client", { notAfter: new Date("2055-05-05T05:05:05Z") });
      const nowPem = await issueCertificate(now);
      expect(openssl("asn1parse", "-in", file(nowPem))).toMatch(/GENERALIZEDTIME\s+:20550505050505Z/);
      expect(opensslVerify(ca.pem, nowPem)).toEndWith(": OK");
      expect(new X509Certificate(nowPem).verify(ca.node.publicKey)).toBe(true);
      expect(parseTlsIdentity(nowPem).notAfter.toISOString()).toBe("2055-05-05T05:05:05.000Z");
    });
  });
}

test("serials are positive, 16 octets and distinct", async () => {
  const ca = cas["ecdsa-p256"]!;
  const spec = await leafSpec(ca, "client");
  const seen = new Set<string>();
  for (let i = 0; i < 64; i++) {
    const pem = await issueCertificate(spec);
    const { serial } = tbsOf(pem);
    expect(serial.length).toBe(16);
    expect(serial[0]).toBeGreaterThan(0);
    expect(serial[0]).toBeLessThan(0x80);
    const nodeSerial = new X509Certificate(pem).serialNumber;
    expect(nodeSerial).toBe(Buffer.from(serial).toString("hex").toUpperCase());
    seen.add(nodeSerial);
  }
  expect(seen.size).toBe(64);
});

test("a CA without SubjectKeyIdentifier: AKI is SHA-1 of its public key bits (RFC 5280 method 1)", async () => {
  for (const alg of ["ecdsa-p256", "ed25519"] as const) {
    const keys = await generateKeyPair(alg);
    const algorithm = alg === "ed25519" ? { name: "Ed25519" } : { name: "ECDSA", hash: "SHA-256" };
    const caCert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: "01",
      name: "CN=no-ski, O=example",
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 86_400_000),
      keys,
      signingAlgorithm: algorithm,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
      ],
    });
    const caPem = caCert.toString("pem");
    expect(openssl("x509", "-in", file(caPem), "-noout", "-text")).not.toContain("Subject Key Identifier");
    // The raw public key: the tail of the SPKI (65-octet uncompressed point, 32-octet Ed25519 key).
    const spki = createPublicKey(caPem).export({ type: "spki", format: "der" });
    const raw = spki.subarray(spki.length - (alg === "ed25519" ? 32 : 65));
    const expected = hexColons(createHash("sha1").update(raw).digest());

    const ca: Ca = { alg, keys, pem: caPem, node: new X509Certificate(caPem), ski: expected };
    const pem = await issueCertificate(await leafSpec(ca, "server"));
    const text = openssl("x509", "-in", file(pem), "-noout", "-text");
    expect(textValue(text, "X509v3 Authority Key Identifier")).toBe(expected);
    expect(textValue(text, "Issuer")).toBe("CN = no-ski, O = example");
    expect(opensslVerify(caPem, pem)).toEndWith(": OK");
    expect(new X509Certificate(pem).checkIssued(ca.node)).toBe(true);
  }
});

test("the CA certificate is parsed once per PEM", async () => {
  const ca = cas.ed25519!;
  const first = issuingCa(ca.pem);
  expect(issuingCa(ca.pem)).toBe(first);
  await issueCertificate(await leafSpec(ca, "client"));
  expect(issuingCa(ca.pem)).toBe(first);
  expect(issuingCa(cas["ecdsa-p256"]!.pem)).not.toBe(first);
  // A bad PEM fails, and is not remembered as a failure.
  const bad = "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n";
  await expect(issuingCa(bad)).rejects.toThrow();
  await expect(issuingCa(bad)).rejects.toThrow();
  await expect(issueCertificate(await leafSpec({ ...ca, pem: "not a pem" }, "client"))).rejects.toThrow();
});

test("unsupported CA keys and usages are refused", async () => {
  const ca = cas["ecdsa-p256"]!;
  const rsa = (await crypto.subtle.generateKey(
    {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    },
    true,
    ["sign", "verify"],
  )) as CryptoKeyPair;
  await expect(
    issueCertificate({ ...(await leafSpec(ca, "client")), caKey: rsa.privateKey }),
  ).rejects.toThrow(/unsupported CA key/);
  const spec = { ...(await leafSpec(ca, "client")), usage: "email" as LeafSpec["usage"] };
  await expect(issueCertificate(spec)).rejects.toThrow(/usage/);
  await expect(
    issueCertificate({ ...(await leafSpec(ca, "server")), ipAddresses: ["1.2.3"] }),
  ).rejects.toThrow(/invalid IP/);
  await expect(
    issueCertificate({ ...(await leafSpec(ca, "client")), attributes: { OU: "not an OID" } }),
  ).rejects.toThrow(/OID/);
});

describe("iPAddress octets", () => {
  test.each([
    ["127.0.0.1", "7f000001"],
    ["0.0.0.0", "00000000"],
    ["255.255.255.255", "ffffffff"],
    ["::", "00000000000000000000000000000000"],
    ["::1", "00000000000000000000000000000001"],
    ["2001:db8::7", "20010db8000000000000000000000007"],
    ["fe80::1:2", "fe800000000000000000000000010002"],
    ["1:2:3:4:5:6:7:8", "00010002000300040005000600070008"],
    ["1:2:3:4:5:6:7::", "00010002000300040005000600070000"],
    ["::ffff:192.0.2.1", "00000000000000000000ffffc0000201"],
    ["2001:db8::ffff:1.2.3.4", "20010db8000000000000ffff01020304"],
    ["2001:DB8::A", "20010db800000000000000000000000a"],
  ])("%s", (ip, hex) => {
    expect(Buffer.from(ipAddressBytes(ip)).toString("hex")).toBe(hex);
  });

  test.each(["", "1.2.3", "256.1.1.1", "1::2::3", "fe80::1%eth0", "localhost", "1:2:3:4:5:6:7:8:9"])(
    "rejects %p",
    (ip) => {
      expect(() => ipAddressBytes(ip)).toThrow();
    },
  );
});

describe("ECDSA signature conversion", () => {
  const parse = (der: Uint8Array) => {
    const seq = readTlv(der);
    expect(seq.tag).toBe(0x30);
    expect(seq.end).toBe(der.length);
    return children(der, seq).map((n) => {
      expect(n.tag).toBe(0x02);
      return Buffer.from(contentOf(der, n)).toString("hex");
    });
  };
  const rs = (r: string, s: string) => new Uint8Array(Buffer.from(r + s, "hex"));

  test("minimal positive INTEGERs", () => {
    const pad = (lead: string) => lead + "11".repeat(32 - lead.length / 2);
    // High bit set: a zero octet is prepended.
    expect(parse(ecdsaSignatureToDer(rs(pad("ff"), pad("7f"))))).toEqual(["00" + pad("ff"), pad("7f")]);
    // Leading zero octets are dropped, unless the next octet has its high bit set.
    expect(parse(ecdsaSignatureToDer(rs(pad("0000"), pad("0001"))))).toEqual([
      pad("0000").slice(4),
      pad("0001").slice(2),
    ]);
    expect(parse(ecdsaSignatureToDer(rs(pad("0080"), pad("000080"))))).toEqual([
      pad("0080"),
      pad("000080").slice(2),
    ]);
    expect(parse(ecdsaSignatureToDer(rs("00".repeat(32), "01".padStart(64, "0"))))).toEqual(["00", "01"]);
    expect(() => ecdsaSignatureToDer(new Uint8Array(63))).toThrow();
    expect(() => ecdsaSignatureToDer(new Uint8Array(0))).toThrow();
  });

  test("WebCrypto signatures converted verify as DER with node:crypto", async () => {
    const keys = await generateKeyPair("ecdsa-p256");
    const spki = Buffer.from(await crypto.subtle.exportKey("spki", keys.publicKey));
    const key = createPublicKey({ key: spki, format: "der", type: "spki" });
    for (let i = 0; i < 50; i++) {
      const data = crypto.getRandomValues(new Uint8Array(40));
      const sig = new Uint8Array(
        await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, keys.privateKey, data),
      );
      const der = ecdsaSignatureToDer(sig);
      expect(nodeVerify("sha256", data, { key, dsaEncoding: "der" }, der)).toBe(true);
    }
  });
});
