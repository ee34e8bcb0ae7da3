// TPMT_PUBLIC: parse, re-encode, Name and PKIX form, on the TCG EK templates and real AKs.
import { describe, expect, test } from "bun:test";
import { createPublicKey } from "node:crypto";
import {
  Alg,
  EccCurve,
  encodeTpm2bPublic,
  encodeTpmtPublic,
  hasAttribute,
  objectAttrNames,
  objectName,
  parseSpki,
  parseTpm2bPublic,
  parseTpmtPublic,
  tpmPublicToSpki,
} from "../../../src/tpm/structures/index.ts";
import { fromB64, fromHex, readVectorJson, toHex } from "./vectors.ts";

const templates = readVectorJson("tcg", "ek-templates.json").templates;
const activation = readVectorJson("go-attestation", "activation.json");

describe("TCG EK templates (tcg/ek-templates.json)", () => {
  for (const [id, t] of Object.entries<any>(templates)) {
    test(`${id}: parse → encode gives the same bytes`, () => {
      const bytes = fromHex(t.templateHex);
      expect(bytes.length).toBe(t.templateLength);
      const pub = parseTpmtPublic(bytes);
      expect(toHex(encodeTpmtPublic(pub))).toBe(t.templateHex);
      expect(parseTpm2bPublic(encodeTpm2bPublic(pub))).toEqual(pub);
    });

    test(`${id}: fields match the documented facts`, () => {
      const pub = parseTpmtPublic(fromHex(t.templateHex));
      expect(pub.nameAlg).toBe(Alg.SHA256);
      expect(pub.objectAttributes).toBe(Number.parseInt(t.objectAttributes.value, 16));
      expect(objectAttrNames(pub.objectAttributes)).toEqual([
        "fixedTPM",
        "fixedParent",
        "sensitiveDataOrigin",
        "adminWithPolicy",
        "restricted",
        "decrypt",
      ]);
      expect(toHex(pub.authPolicy)).toBe(t.authPolicy.hex.toLowerCase());
      expect(pub.symmetric).toEqual({ algorithm: Alg.AES, keyBits: 128, mode: Alg.CFB });
      expect(pub.scheme).toEqual({ scheme: Alg.NULL });
      if (pub.type === "rsa") {
        expect(pub.keyBits).toBe(2048);
        expect(pub.exponent).toBe(0);
        expect(pub.modulus).toEqual(new Uint8Array(256));
      } else {
        expect(pub.curveId).toBe(EccCurve.NIST_P256);
        expect(pub.kdf).toEqual({ scheme: Alg.NULL });
        expect(pub.x).toEqual(new Uint8Array(32));
      }
    });
  }
});

describe("real AK public areas (go-attestation/activation.json)", () => {
  for (const c of activation.positive) {
    const bytes = fromB64(c.akParams.Public);
    test(`${c.id}: decoded fields`, () => {
      const pub = parseTpmtPublic(bytes);
      const d = c.publicDecoded;
      expect(pub.nameAlg).toBe(Number.parseInt(d.nameAlg, 16));
      expect(pub.objectAttributes).toBe(Number.parseInt(d.objectAttributes, 16));
      expect(objectAttrNames(pub.objectAttributes)).toEqual(d.objectAttributesNames);
      expect(hasAttribute(pub, "sign")).toBe(true);
      expect(toHex(pub.authPolicy)).toBe(d.authPolicyHex);
      expect(pub.symmetric).toBeNull();
      expect(pub.scheme).toEqual({
        scheme: Number.parseInt(d.scheme, 16),
        hashAlg: Number.parseInt(d.schemeHash, 16),
      });
      if (pub.type === "rsa") {
        expect(pub.keyBits).toBe(d.keyBits);
        expect(toHex(pub.modulus)).toBe(d.modulusHex);
      } else {
        expect(pub.curveId).toBe(Number.parseInt(d.curveID, 16));
        expect(toHex(pub.x)).toBe(d.xHex);
        expect(toHex(pub.y)).toBe(d.yHex);
      }
      expect(toHex(encodeTpmtPublic(pub))).toBe(toHex(bytes));
    });

    test(`${c.id}: Name is nameAlg || SHA-256(TPMT_PUBLIC)`, () => {
      expect(toHex(objectName(bytes))).toBe(c.akNameHex);
    });

    test(`${c.id}: PKIX form imports and reads back`, () => {
      const pub = parseTpmtPublic(bytes);
      const spki = tpmPublicToSpki(pub);
      const key = createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
      expect(key.asymmetricKeyType).toBe(pub.type === "rsa" ? "rsa" : "ec");
      const jwk = key.export({ format: "jwk" });
      if (pub.type === "rsa") {
        expect(Buffer.from(jwk.n!, "base64url")).toEqual(Buffer.from(pub.modulus));
        expect(jwk.e).toBe("AQAB");
      } else {
        expect(jwk.crv).toBe("P-256");
        expect(Buffer.from(jwk.x!, "base64url")).toEqual(Buffer.from(pub.x));
      }
      const back = parseSpki(spki);
      expect(back.type).toBe(pub.type);
    });
  }
});

describe("malformed public areas", () => {
  const rsa = fromB64(activation.positive[0].akParams.Public);
  test("truncated", () => {
    expect(() => parseTpmtPublic(rsa.subarray(0, rsa.length - 1))).toThrow(/truncated/);
  });
  test("trailing bytes", () => {
    const longer = new Uint8Array(rsa.length + 1);
    longer.set(rsa);
    expect(() => parseTpmtPublic(longer)).toThrow(/trailing/);
  });
  test("keyed-hash objects are not keys we handle", () => {
    const kh = Uint8Array.of(0x00, 0x08, 0x00, 0x0b, 0, 0, 0, 0, 0, 0);
    expect(() => parseTpmtPublic(kh)).toThrow(/KEYEDHASH is not supported/);
  });
  test("scheme unions: ECDAA carries a count, an RSA scheme in an ECC key is refused", () => {
    const ecc = parseTpmtPublic(fromB64(activation.positive[1].akParams.Public));
    const ecdaa = encodeTpmtPublic({ ...ecc, scheme: { scheme: Alg.ECDAA, hashAlg: Alg.SHA256, count: 7 } });
    expect(parseTpmtPublic(ecdaa).scheme).toEqual({ scheme: Alg.ECDAA, hashAlg: Alg.SHA256, count: 7 });
    const rsaes = encodeTpmtPublic({ ...ecc, scheme: { scheme: Alg.RSAES } });
    expect(() => parseTpmtPublic(rsaes)).toThrow(/unsupported scheme RSAES/);
  });
  test("TPM2B_PUBLIC size must match", () => {
    const b = encodeTpm2bPublic(parseTpmtPublic(rsa));
    b[1] = b[1]! + 1;
    expect(() => parseTpm2bPublic(b)).toThrow(/size/);
  });
  test("SPKI of an unsupported curve is refused", () => {
    const pub = parseTpmtPublic(fromB64(activation.negative[0].akParams.Public));
    expect(() => tpmPublicToSpki(pub)).toThrow(/NIST_P224 is not supported/);
  });
});
