// EK certificate bytes as TPMs store them, and the serial notation of reference §6.2, checked
// against openssl for the awkward serials: a leading zero byte (high bit set), an odd number of
// hex digits, and a long one.

import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  ekIdentityFromCertificate,
  ekPublicHash,
  readEkCertificate,
} from "../../../src/tpm/server/ek-validation.ts";

// The device side reads EK certificates with the auth service's functions; these cases check
// them against openssl on real and crafted certificates.
const certificateFromNv = (nv: Uint8Array) => readEkCertificate(nv).der;
const certificateSerial = (der: Uint8Array) => ekIdentityFromCertificate(der).ekCertSerial;
const certificateSpki = (der: Uint8Array) => readEkCertificate(der).spki;

import { cleanupAfterFile, run, tempDir } from "../../harness/proc.ts";
import { vectorsDir } from "../vectors.ts";

cleanupAfterFile();

function opensslCert(dir: string, serial: string): Uint8Array {
  const key = join(dir, `${serial}.key`);
  const der = join(dir, `${serial}.der`);
  const r = run([
    "openssl",
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    key,
    "-subj",
    "/CN=ek",
    "-days",
    "1",
    "-set_serial",
    serial,
    "-outform",
    "DER",
    "-out",
    der,
  ]);
  if (r.code !== 0) throw new Error(r.stderr);
  return new Uint8Array(readFileSync(der));
}

/** openssl's "serial=0A1B" as the reference writes it: "0a:1b". */
function opensslSerial(der: Uint8Array): string {
  const out = Bun.spawnSync(["openssl", "x509", "-inform", "DER", "-noout", "-serial"], { stdin: der });
  const hex = /serial=([0-9A-F]+)/.exec(out.stdout.toString())![1]!.toLowerCase();
  const even = hex.length % 2 ? `0${hex}` : hex;
  return even.match(/../g)!.join(":");
}

test("serials: high bit set, odd digit count, 20 bytes, one byte — as openssl prints them", () => {
  const dir = tempDir("ek-serial-");
  const cases: [string, string][] = [
    ["0x80a1b2", "80:a1:b2"], // DER needs a 0x00 sign byte; the unsigned number has none
    ["0xabc", "0a:bc"],
    ["0x7fffffffffffffffffffffffffffffffffffff01", `7f:${"ff:".repeat(18)}01`],
    ["2", "02"],
  ];
  for (const [serial, expected] of cases) {
    const der = opensslCert(dir, serial);
    expect(certificateSerial(der)).toBe(expected);
    expect(opensslSerial(der)).toBe(expected);
  }
});

test("a vendor's EK certificate: serial and public key match openssl", () => {
  const pem = readFileSync(join(vectorsDir("keylime-ek-certs"), "stm_rsa2048_ek.pem"), "utf8");
  const der = new Uint8Array(Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ""), "base64"));
  expect(certificateSerial(der)).toBe(opensslSerial(der));
  const spki = Bun.spawnSync(["openssl", "x509", "-inform", "DER", "-noout", "-pubkey"], { stdin: der });
  const spkiDer = Bun.spawnSync(["openssl", "pkey", "-pubin", "-outform", "DER"], {
    stdin: spki.stdout,
  }).stdout;
  expect(ekPublicHash(certificateSpki(der))).toBe(ekPublicHash(new Uint8Array(spkiDer)));
});

test("NV contents: plain DER, 0xFF padding, and the vendor header are all reduced to the DER", () => {
  const der = opensslCert(tempDir("ek-nv-"), "0x1234");
  const padded = new Uint8Array(der.length + 300).fill(0xff);
  padded.set(der);
  const header = Uint8Array.of(0x10, 0x01, 0x00, der.length >> 8, der.length & 0xff);
  const withHeader = new Uint8Array([...header, ...der, 0xff, 0xff]);
  for (const nv of [der, padded, withHeader]) expect(certificateFromNv(nv)).toEqual(der);
});

test("NV contents that are not a certificate are refused with a reason", () => {
  expect(() => certificateFromNv(new Uint8Array(64).fill(0xff))).toThrow(/not DER/);
  expect(() => certificateFromNv(Uint8Array.of(0x10, 0x01, 0x00, 0x04, 0x00, 0x30))).toThrow(
    /header says 1024 bytes/,
  );
  expect(() => certificateFromNv(Uint8Array.of(0x30, 0x82, 0x04, 0x00, 0x01))).toThrow(/DER/);
});
