// The SSH wire encoding helpers (RFC 4251 §5) and the ECDSA signature conversion.
import { describe, expect, test } from "bun:test";
import { ecdsaCurves, p1363ToSshSignature, sshSignatureToP1363 } from "../../../src/crypto/ssh/ecdsa.ts";
import { SshFormatError } from "../../../src/crypto/ssh/errors.ts";
import { SshReader, SshWriter } from "../../../src/crypto/ssh/wire.ts";

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const bytes = (h: string) => new Uint8Array(Buffer.from(h, "hex"));

describe("SshWriter / SshReader", () => {
  test("RFC 4251 mpint examples (non-negative ones)", () => {
    expect(hex(new SshWriter().mpint(bytes("")).finish())).toBe("00000000");
    expect(hex(new SshWriter().mpint(bytes("0000")).finish())).toBe("00000000");
    expect(hex(new SshWriter().mpint(bytes("09a378f9b2e332a7")).finish())).toBe("0000000809a378f9b2e332a7");
    expect(hex(new SshWriter().mpint(bytes("80")).finish())).toBe("000000020080");
    expect(hex(new SshWriter().mpint(bytes("000080")).finish())).toBe("000000020080");
  });

  test("mpint reading rejects negative and padded numbers", () => {
    expect(hex(new SshReader(bytes("000000020080"), "t").mpint("x"))).toBe("80");
    expect(() => new SshReader(bytes("00000002edcc"), "t").mpint("x")).toThrow("negative mpint");
    expect(() => new SshReader(bytes("000000020001"), "t").mpint("x")).toThrow("superfluous leading zero");
  });

  test("round trip of every field type", () => {
    const blob = new SshWriter()
      .uint32(0xdeadbeef)
      .uint64(0xffff_ffff_ffff_fffen)
      .string("héllo")
      .stringList(["a", "", "c d"])
      .nameList(["x", "y"])
      .finish();
    const r = new SshReader(blob, "test blob");
    expect(r.uint32("u32")).toBe(0xdeadbeef);
    expect(r.uint64("u64")).toBe(0xffff_ffff_ffff_fffen);
    expect(r.text("s")).toBe("héllo");
    expect(r.stringList("list")).toEqual(["a", "", "c d"]);
    expect(r.nameList("names")).toEqual(["x", "y"]);
    r.expectEnd();
  });

  test("errors name the structure, the field and the offset", () => {
    const r = new SshReader(bytes("00000010616263"), "certificate");
    expect(() => r.string("key id")).toThrow(
      new SshFormatError("certificate is truncated: key id needs 16 bytes at offset 4, only 3 left"),
    );
    const trailing = new SshReader(bytes("0000000100ff"), "public key");
    trailing.string("x");
    expect(() => trailing.expectEnd()).toThrow("public key has 1 unexpected trailing bytes at offset 5");
  });

  test("uint64 out of range is refused when writing", () => {
    expect(() => new SshWriter().uint64(-1n)).toThrow(RangeError);
    expect(() => new SshWriter().uint64(2n ** 64n)).toThrow(RangeError);
  });
});

describe("ECDSA signature form", () => {
  const [p256] = ecdsaCurves;
  const curve = p256 as NonNullable<typeof p256>;

  test("leading zeros are dropped and a set top bit gets a 00 byte", () => {
    const r = `0000${"11".repeat(30)}`;
    const s = `ff${"22".repeat(31)}`;
    const ssh = p1363ToSshSignature(bytes(r + s), curve);
    expect(hex(ssh)).toBe(`0000001e${"11".repeat(30)}0000002100${s}`);
    expect(hex(sshSignatureToP1363(ssh, curve))).toBe(r + s);
  });

  test("round trip of real signatures on every curve", async () => {
    for (const c of ecdsaCurves) {
      const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: c.webCryptoName }, false, [
        "sign",
      ])) as CryptoKeyPair;
      for (let i = 0; i < 20; i++) {
        const raw = new Uint8Array(
          await crypto.subtle.sign({ name: "ECDSA", hash: c.hash }, pair.privateKey, bytes("00")),
        );
        expect(hex(sshSignatureToP1363(p1363ToSshSignature(raw, c), c))).toBe(hex(raw));
      }
    }
  });

  test("malformed signature bodies", () => {
    expect(() => p1363ToSshSignature(new Uint8Array(63), curve)).toThrow("must be 64 bytes");
    const tooBig = new SshWriter().mpint(new Uint8Array(33).fill(1)).mpint(bytes("01")).finish();
    expect(() => sshSignatureToP1363(tooBig, curve)).toThrow("r is too large");
    const extra = new SshWriter().mpint(bytes("01")).mpint(bytes("01")).uint32(0).finish();
    expect(() => sshSignatureToP1363(extra, curve)).toThrow("trailing bytes");
  });
});
