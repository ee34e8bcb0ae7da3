// EK chains built by openssl: each case is also put to `openssl verify -partial_chain`, whose
// verdict must agree with ours (the trust semantics are the same: every listed certificate
// is a trust anchor).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ekIdentityFromCertificate, verifyEkChain } from "../../../src/tpm/server/index.ts";
import { isCode } from "../../../src/util/errors.ts";
import { makeTestCa, type TestCa } from "./openssl-ca.ts";

let ca: TestCa;
const p: Record<string, string> = {};

beforeAll(() => {
  ca = makeTestCa();
  p.rootKey = ca.key("root", "ec-p384");
  p.root = ca.root("root", p.rootKey, "/O=Test Vendor/CN=Test EK Root");
  p.interKey = ca.key("inter", "ec-p256");
  const issued = (name: string, key: string, subject: string, section: any, extra: object = {}) =>
    ca.issue({ name, key, subject, issuerCert: p.root!, issuerKey: p.rootKey!, section, ...extra });
  p.inter = issued("inter", p.interKey, "/O=Test Vendor/CN=Test EK Intermediate", "ca", { digest: "sha384" });
  p.ekKey = ca.key("ek", "rsa-2048");
  const ek = (name: string, issuerCert: string, issuerKey: string, extra: object = {}) =>
    ca.issue({ name, key: p.ekKey!, subject: "/CN=unknown", issuerCert, issuerKey, section: "ek", ...extra });
  p.ek = ek("ek", p.inter, p.interKey);

  // A look-alike: same subject as the intermediate, different key.
  p.fakeKey = ca.key("fake", "ec-p256");
  p.fake = issued("fake", p.fakeKey, "/O=Test Vendor/CN=Test EK Intermediate", "ca");
  // An intermediate that is not a CA, and one that may not sign certificates.
  p.notCaKey = ca.key("notca", "ec-p256");
  p.notCa = issued("notca", p.notCaKey, "/O=Test Vendor/CN=Not A CA", "not_ca");
  p.ekOfNotCa = ek("ek-notca", p.notCa, p.notCaKey);
  p.noSignKey = ca.key("nosign", "ec-p256");
  p.noSign = issued("nosign", p.noSignKey, "/O=Test Vendor/CN=No Cert Sign", "ca_without_cert_sign");
  p.ekOfNoSign = ek("ek-nosign", p.noSign, p.noSignKey);
  // RSA CA signing with RSA-PSS, and with SHA-1.
  p.rsaKey = ca.key("rsaca", "rsa-2048");
  p.rsaCa = issued("rsaca", p.rsaKey, "/O=Test Vendor/CN=RSA CA", "ca");
  p.ekPss = ek("ek-pss", p.rsaCa, p.rsaKey, { sigopts: ["rsa_padding_mode:pss", "rsa_pss_saltlen:32"] });
  p.ekSha1 = ek("ek-sha1", p.rsaCa, p.rsaKey, { digest: "sha1" });
  p.ekSha512 = ek("ek-sha512", p.rsaCa, p.rsaKey, { digest: "sha512" });
  // A short-lived intermediate (1 day).
  p.shortKey = ca.key("short", "ec-p256");
  p.short = issued("short", p.shortKey, "/O=Test Vendor/CN=Short Lived", "ca", { days: 1 });
  p.ekOfShort = ek("ek-short", p.short, p.shortKey);
});
afterAll(() => ca.remove());

const pem = (name: string) => ca.pem(p[name]!);

function verdict(ek: string, listed: string[], now?: Date): { ok: boolean; message: string } {
  try {
    verifyEkChain(pem(ek), listed.map(pem), now ? { now } : {});
    return { ok: true, message: "" };
  } catch (e) {
    expect(isCode(e, "access_denied")).toBe(true);
    return { ok: false, message: (e as Error).message };
  }
}

/** Our verdict, checked against openssl's on the same files. */
function agreed(ek: string, listed: string[]): { ok: boolean; message: string } {
  const ours = verdict(ek, listed);
  expect(ours.ok).toBe(
    ca.opensslAccepts(
      p[ek]!,
      listed.map((n) => p[n]!),
    ),
  );
  return ours;
}

describe("trust semantics, agreeing with openssl verify -partial_chain", () => {
  test("intermediate listed alone: accepted", () => {
    expect(agreed("ek", ["inter"]).ok).toBe(true);
  });
  test("root and intermediate listed: accepted", () => {
    expect(agreed("ek", ["root", "inter"]).ok).toBe(true);
  });
  test("root only: refused (the intermediate must be listed)", () => {
    expect(agreed("ek", ["root"]).message).toContain("not among the 1 certificates");
  });
  test("a look-alike CA (same name, other key): refused; with the real one also listed: accepted", () => {
    expect(agreed("ek", ["fake"]).message).toContain("did not sign it");
    expect(agreed("ek", ["fake", "inter"]).ok).toBe(true);
  });
  test("issuer without basicConstraints cA: refused", () => {
    expect(agreed("ekOfNotCa", ["notCa"]).message).toContain("is not a CA");
  });
  test("RSA-PSS and SHA-512 signatures: accepted", () => {
    expect(agreed("ekPss", ["rsaCa"]).ok).toBe(true);
    expect(agreed("ekSha512", ["rsaCa"]).ok).toBe(true);
  });
});

describe("stricter than openssl's defaults", () => {
  test("issuer whose keyUsage lacks keyCertSign: refused", () => {
    expect(verdict("ekOfNoSign", ["noSign"]).message).toContain("keyUsage lacks keyCertSign");
  });
  test("SHA-1 signature: refused as weak", () => {
    expect(verdict("ekSha1", ["rsaCa"]).message).toContain("sha1WithRSAEncryption, which is refused as weak");
  });
});

describe("validity of the issuer", () => {
  test("an expired intermediate: refused", () => {
    const later = new Date(Date.now() + 3 * 86_400_000);
    expect(verdict("ekOfShort", ["short"]).ok).toBe(true);
    expect(verdict("ekOfShort", ["short"], later).message).toMatch(/the listed CA .*Short Lived" expired at/);
  });
});

describe("EK identity of an openssl-made EK certificate", () => {
  test("critical SAN dirName and an unknown critical extension are tolerated", () => {
    const id = ekIdentityFromCertificate(pem("ek"));
    expect(id.ekCertSerial).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2})*$/);
    const critical = id.certificate!.extensions.filter((e) => e.critical).map((e) => e.oid);
    expect(critical).toEqual(expect.arrayContaining(["2.5.29.17", "1.3.6.1.4.1.99999.1"]));
  });
});
