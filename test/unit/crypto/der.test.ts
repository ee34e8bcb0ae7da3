// The DER writer against encodings worked out from X.690 / RFC 5280 by hand, and the reader
// against what the writer produces and against malformed input.

import { describe, expect, test } from "bun:test";
import {
  bitString,
  boolean,
  children,
  decodeOid,
  explicit,
  generalizedTime,
  ia5String,
  implicit,
  integer,
  octetString,
  oid,
  printableString,
  readCertificateIssuerFields,
  readTlv,
  sequence,
  set,
  tlv,
  utcTime,
  utf8String,
  x509Time,
} from "../../../src/crypto/der.ts";

const h = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const b = (hex: string) => new Uint8Array(Buffer.from(hex, "hex"));

describe("lengths", () => {
  test.each([
    [0, "0400"],
    [1, "0401"],
    [127, "047f"],
    [128, "048180"],
    [255, "0481ff"],
    [256, "04820100"],
    [65_535, "0482ffff"],
    [65_536, "0483010000"],
  ])("%d content octets", (n, header) => {
    const enc = octetString(new Uint8Array(n));
    expect(h(enc.subarray(0, header.length / 2))).toBe(header);
    expect(enc.length).toBe(header.length / 2 + n);
    const node = readTlv(enc);
    expect(node.contentStart).toBe(header.length / 2);
    expect(node.end).toBe(enc.length);
  });
});

describe("INTEGER", () => {
  test.each([
    ["", "020100"],
    ["00", "020100"],
    ["0000", "020100"],
    ["01", "020101"],
    ["7f", "02017f"],
    ["80", "02020080"],
    ["ff", "020200ff"],
    ["000080", "02020080"],
    ["00007f", "02017f"],
    ["0102", "02020102"],
  ])("magnitude %p", (magnitude, expected) => {
    expect(h(integer(b(magnitude)))).toBe(expected);
  });
});

describe("OBJECT IDENTIFIER", () => {
  test.each([
    ["1.2.840.10045.4.3.2", "06082a8648ce3d040302"],
    ["1.3.101.112", "06032b6570"],
    ["2.5.29.14", "0603551d0e"],
    ["2.5.4.3", "0603550403"],
    ["1.3.6.1.5.5.7.3.2", "06082b06010505070302"],
    ["1.3.9999.1.14", "06052bce0f010e"],
    ["2.999.3", "0603883703"],
    ["1.2.4294967296", "06062a9080808000"],
  ])("%s", (dotted, expected) => {
    expect(h(oid(dotted))).toBe(expected);
  });

  test.each(["", "1", "1.", "3.1", "1.40", "a.b", "1..2", "CN"])("rejects %p", (bad) => {
    expect(() => oid(bad)).toThrow();
  });
});

describe("strings and simple types", () => {
  test("UTF8String, PrintableString, IA5String", () => {
    expect(h(utf8String("ü"))).toBe("0c02c3bc");
    expect(h(printableString("Ab1 '()+,-./:=?"))).toBe(
      `130f${Buffer.from("Ab1 '()+,-./:=?").toString("hex")}`,
    );
    expect(() => printableString("a_b")).toThrow();
    expect(() => printableString("a@b")).toThrow();
    expect(h(ia5String("*.x"))).toBe("16032a2e78");
    expect(() => ia5String("ü")).toThrow();
  });

  test("BIT STRING, OCTET STRING, BOOLEAN", () => {
    expect(h(bitString(b("a0"), 5))).toBe("030205a0");
    expect(h(bitString(b("0102")))).toBe("0303000102");
    expect(h(bitString(new Uint8Array(0)))).toBe("030100");
    expect(() => bitString(b("a0"), 8)).toThrow();
    expect(h(octetString(b("beef")))).toBe("0402beef");
    expect(h(boolean(true))).toBe("0101ff");
    expect(h(boolean(false))).toBe("010100");
  });

  test("SEQUENCE, SET OF (DER-sorted), tagging", () => {
    expect(h(sequence())).toBe("3000");
    expect(h(sequence(boolean(true), integer(b("05"))))).toBe("30060101ff020105");
    // SET OF sorts by encoding, whatever order the elements are given in.
    expect(h(set(integer(b("05")), boolean(true)))).toBe("31060101ff020105");
    expect(h(explicit(0, integer(b("02"))))).toBe("a003020102");
    expect(h(explicit(3, sequence()))).toBe("a3023000");
    expect(h(implicit(2, ia5String("a")))).toBe("820161");
    expect(h(implicit(7, octetString(b("7f000001"))))).toBe("87047f000001");
    expect(h(implicit(1, sequence(boolean(true))))).toBe("a1030101ff");
    expect(() => explicit(31, sequence())).toThrow();
    expect(() => tlv(0x1f, new Uint8Array(0))).toThrow();
  });
});

describe("times (RFC 5280 4.1.2.5)", () => {
  const text = (enc: Uint8Array) => ({ tag: enc[0], value: Buffer.from(readContent(enc)).toString() });
  const readContent = (enc: Uint8Array) => enc.subarray(readTlv(enc).contentStart);

  test("UTCTime from 1950 through 2049, seconds kept and fractions dropped", () => {
    expect(text(x509Time(new Date("2026-03-04T05:06:07.999Z")))).toEqual({
      tag: 0x17,
      value: "260304050607Z",
    });
    expect(text(x509Time(new Date("2049-12-31T23:59:59.999Z")))).toEqual({
      tag: 0x17,
      value: "491231235959Z",
    });
    expect(text(x509Time(new Date("1950-01-01T00:00:00Z")))).toEqual({ tag: 0x17, value: "500101000000Z" });
    expect(() => utcTime(new Date("2050-01-01T00:00:00Z"))).toThrow();
  });

  test("GeneralizedTime from 2050 (and before 1950)", () => {
    expect(text(x509Time(new Date("2050-01-01T00:00:00Z")))).toEqual({ tag: 0x18, value: "20500101000000Z" });
    expect(text(x509Time(new Date("9999-12-31T23:59:59Z")))).toEqual({ tag: 0x18, value: "99991231235959Z" });
    expect(text(x509Time(new Date("1949-12-31T23:59:59Z")))).toEqual({ tag: 0x18, value: "19491231235959Z" });
    expect(text(generalizedTime(new Date("2026-03-04T05:06:07.5Z")))).toEqual({
      tag: 0x18,
      value: "20260304050607Z",
    });
    expect(() => x509Time(new Date(Number.NaN))).toThrow();
  });
});

describe("reader", () => {
  test("walks what the writer wrote", () => {
    const enc = sequence(integer(b("05")), sequence(boolean(true)), octetString(new Uint8Array(300)));
    const root = readTlv(enc);
    const kids = children(enc, root);
    expect(kids.map((k) => k.tag)).toEqual([0x02, 0x30, 0x04]);
    expect(kids[2]!.end - kids[2]!.contentStart).toBe(300);
    expect(children(enc, kids[1]!).map((k) => k.tag)).toEqual([0x01]);
  });

  test.each([
    ["truncated header", "30"],
    ["indefinite length", "3080000000"],
    ["content past the end", "3005020101"],
    ["length of length too long", "3085000000000100"],
    ["high tag number", "1f0100"],
  ])("rejects %s", (_what, hex) => {
    expect(() => children(b(hex), readTlv(b(hex)))).toThrow();
  });

  test("a child running past its parent is rejected", () => {
    const bad = b("3003020201ff");
    expect(() => children(bad, readTlv(bad, 0, 5))).toThrow();
  });

  test("readCertificateIssuerFields refuses what is not a certificate", () => {
    expect(() => readCertificateIssuerFields(b("3000"))).toThrow();
    expect(() => readCertificateIssuerFields(sequence(sequence(integer(b("01")))))).toThrow();
    expect(() => readCertificateIssuerFields(b("300330010000"))).toThrow();
  });
});

describe("decodeOid", () => {
  test.each([
    "1.2.840.10045.4.3.2",
    "2.5.29.19",
    "2.23.133.8.1",
    "1.3.6.1.4.1.99999.1",
    "2.999.1",
    "0.9.2342",
  ])("reads back %s", (dotted) => {
    expect(decodeOid(oid(dotted).subarray(2))).toBe(dotted);
  });
  test("rejects empty and unterminated content", () => {
    expect(() => decodeOid(b(""))).toThrow();
    expect(() => decodeOid(b("2a86"))).toThrow();
  });
});
