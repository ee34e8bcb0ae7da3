// MakeCredential against go-tpm's deterministic vectors, and round trips through an "EK"
// private key (playing the TPM's ActivateCredential with node:crypto).
import { describe, expect, test } from "bun:test";
import { constants, createDecipheriv, createHmac, createPrivateKey, privateDecrypt } from "node:crypto";
import { p256, p384, p521 } from "@noble/curves/nist.js";
import { kdfa, kdfe } from "../../../src/tpm/server/kdf.ts";
import { makeCredential } from "../../../src/tpm/server/make-credential.ts";
import {
  Alg,
  EccCurve,
  encodeSpki,
  encodeTpmtPublic,
  hashById,
  nistCurveById,
  parseSpki,
  parseTpmtPublic,
  TpmReader,
  unwrapTpm2b,
} from "../../../src/tpm/structures/index.ts";
import { fromB64, fromHex, readVectorJson, toHex } from "./vectors.ts";

const cred = readVectorJson("go-tpm", "credactivation.json");
const activation = readVectorJson("go-attestation", "activation.json");
const templates = readVectorJson("tcg", "ek-templates.json").templates;
const sha256 = hashById(Alg.SHA256)!;
const akName = fromHex(cred.inputs.akName.nameHex);
const secret = fromHex(cred.inputs.secretHex);
const P256 = nistCurveById(EccCurve.NIST_P256)!;
const zeroRandom = (n: number) => new Uint8Array(n);

describe("go-tpm credactivation vectors", () => {
  const rsa = cred.vectors.find((v: any) => v.id === "rsa-2048");
  const ecc = cred.vectors.find((v: any) => v.id === "ecc-nistp256");

  test("RSA-2048 EK, zero RNG: credentialBlob and secret byte for byte", () => {
    const out = makeCredential({
      ek: { spki: fromB64(rsa.ekPublicKeySpkiDerB64) },
      akName,
      secret,
      randomBytes: zeroRandom,
    });
    expect(toHex(out.credentialBlob)).toBe(toHex(fromB64(rsa.expected.credentialBlobB64)));
    expect(toHex(out.encryptedSecret)).toBe(toHex(fromB64(rsa.expected.encryptedSecretB64)));
  });

  test("ECC P-256 EK, ephemeral scalar 0x0042…: credentialBlob and secret byte for byte", () => {
    const scalar = fromHex(ecc.intermediatesDerived.ephemeralPrivScalarHex);
    const out = makeCredential({
      ek: { spki: fromB64(ecc.ekPublicKeySpkiDerB64) },
      akName,
      secret,
      randomBytes: (n) => {
        expect(n).toBe(32);
        return scalar;
      },
    });
    expect(toHex(out.credentialBlob)).toBe(toHex(fromB64(ecc.expected.credentialBlobB64)));
    expect(toHex(out.encryptedSecret)).toBe(toHex(fromB64(ecc.expected.encryptedSecretB64)));
  });

  test("the EK given as TPMT_PUBLIC (default template + the vector's key) gives the same bytes", () => {
    for (const [v, template] of [
      [rsa, templates["rsa2048-L1"]],
      [ecc, templates["eccNistP256-L2"]],
    ] as const) {
      const pub = parseTpmtPublic(fromHex(template.templateHex));
      const key = parseSpki(fromB64(v.ekPublicKeySpkiDerB64));
      if (pub.type === "rsa" && key.type === "rsa") {
        pub.modulus = key.modulus;
      } else if (pub.type === "ecc" && key.type === "ecc") {
        pub.x = key.x;
        pub.y = key.y;
      }
      const scalar = fromHex(ecc.intermediatesDerived.ephemeralPrivScalarHex);
      const out = makeCredential({
        ek: { tpmtPublic: encodeTpmtPublic(pub) },
        akName,
        secret,
        randomBytes: pub.type === "rsa" ? zeroRandom : () => scalar,
      });
      expect(toHex(out.credentialBlob)).toBe(toHex(fromB64(v.expected.credentialBlobB64)));
      expect(toHex(out.encryptedSecret)).toBe(toHex(fromB64(v.expected.encryptedSecretB64)));
    }
  });

  test("derived intermediates: KDFa and KDFe", () => {
    const r = rsa.intermediatesDerived;
    const empty = new Uint8Array(0);
    expect(toHex(kdfa(sha256, fromHex(r.seedHex), "STORAGE", akName, empty, 128))).toBe(r.symKeyHex);
    expect(toHex(kdfa(sha256, fromHex(r.seedHex), "INTEGRITY", empty, empty, 256))).toBe(r.hmacKeyHex);
    const e = ecc.intermediatesDerived;
    const seed = kdfe(sha256, fromHex(e.zHex), "IDENTITY", fromHex(e.ephemeralXHex), fromHex(e.ekXHex), 256);
    expect(toHex(seed)).toBe(e.seedHex);
  });
});

/** Play the TPM: recover the secret from a credential with the EK's seed, nameAlg and AES size. */
function activate(
  seed: Uint8Array,
  name: Uint8Array,
  blob: Uint8Array,
  hash = sha256,
  aesBits = 128,
): Uint8Array {
  const r = new TpmReader(unwrapTpm2b(blob, "TPM2B_ID_OBJECT"), "TPM2B_ID_OBJECT");
  const hmac = r.tpm2b("integrityHMAC");
  const encIdentity = r.bytes(r.remaining, "encIdentity");
  const empty = new Uint8Array(0);
  const hmacKey = kdfa(hash, seed, "INTEGRITY", empty, empty, hash.size * 8);
  const expected = createHmac(hash.node, hmacKey).update(encIdentity).update(name).digest();
  if (toHex(expected) !== toHex(hmac)) throw new Error("TPM_RC_INTEGRITY");
  const symKey = kdfa(hash, seed, "STORAGE", name, empty, aesBits);
  const d = createDecipheriv(`aes-${aesBits}-cfb`, symKey, new Uint8Array(16));
  const plain = Buffer.concat([d.update(encIdentity), d.final()]);
  return unwrapTpm2b(plain, "TPM2B_DIGEST");
}

describe("round trips with a private key", () => {
  test("RSA EK (go-attestation test key, e = 3): the TPM side recovers the secret", () => {
    const ek = activation.ek;
    const priv = createPrivateKey(ek.privateKeyPkcs8Pem);
    const spki = fromB64(ek.publicKeyPem.replace(/-----[A-Z ]+-----|\s/g, ""));
    const secret32 = crypto.getRandomValues(new Uint8Array(32));
    const out = makeCredential({ ek: { spki }, akName, secret: secret32 });
    const seed = privateDecrypt(
      {
        key: priv,
        padding: constants.RSA_PKCS1_OAEP_PADDING,
        oaepHash: "sha256",
        oaepLabel: Buffer.from("IDENTITY\0"),
      },
      unwrapTpm2b(out.encryptedSecret, "TPM2B_ENCRYPTED_SECRET"),
    );
    expect(seed.length).toBe(16);
    expect(toHex(activate(seed, akName, out.credentialBlob))).toBe(toHex(secret32));
    const otherName = akName.slice();
    otherName[5]! ^= 1;
    expect(() => activate(seed, otherName, out.credentialBlob)).toThrow("TPM_RC_INTEGRITY");
  });

  test("ECC EK: ECDH with the EK private key recovers the seed and the secret", () => {
    const ekPriv = p256.utils.randomSecretKey();
    const ekPoint = p256.getPublicKey(ekPriv, false);
    const ekSpki = encodeSpki({
      type: "ecc",
      curve: P256,
      x: ekPoint.subarray(1, 33),
      y: ekPoint.subarray(33),
    });
    const out = makeCredential({ ek: { spki: ekSpki }, akName, secret });
    const point = new TpmReader(unwrapTpm2b(out.encryptedSecret, "secret"), "TPMS_ECC_POINT");
    const ephX = point.tpm2b("x");
    const ephY = point.tpm2b("y");
    const z = p256.getSharedSecret(ekPriv, Uint8Array.of(4, ...ephX, ...ephY), true).subarray(1);
    const seed = kdfe(sha256, z, "IDENTITY", ephX, ekPoint.subarray(1, 33), 256);
    expect(toHex(activate(seed, akName, out.credentialBlob))).toBe(toHex(secret));
  });

  // The high-range EK templates (TCG EK profile H-3, H-4): the EK's nameAlg and AES-256, not
  // SHA-256/AES-128, drive every derivation — given as TPMT_PUBLIC or implied by a PKIX key.
  for (const [curve, ecdh, nameAlg] of [
    [EccCurve.NIST_P384, p384, Alg.SHA384],
    [EccCurve.NIST_P521, p521, Alg.SHA512],
  ] as const) {
    test(`${nistCurveById(curve)!.name} EK: SHA-${nameAlg === Alg.SHA384 ? 384 : 512} and AES-256`, () => {
      const c = nistCurveById(curve)!;
      const hash = hashById(nameAlg)!;
      const ekPriv = ecdh.utils.randomSecretKey();
      const ekPoint = ecdh.getPublicKey(ekPriv, false);
      const x = ekPoint.subarray(1, 1 + c.size);
      const y = ekPoint.subarray(1 + c.size);
      const template = parseTpmtPublic(fromHex(templates["eccNistP256-L2"].templateHex));
      if (template.type !== "ecc") throw new Error("ECC template expected");
      const ekPublic = encodeTpmtPublic({
        ...template,
        nameAlg,
        symmetric: { algorithm: Alg.AES, keyBits: 256, mode: Alg.CFB },
        curveId: curve,
        x,
        y,
      });
      const name = Uint8Array.of(
        nameAlg >> 8,
        nameAlg & 0xff,
        ...crypto.getRandomValues(new Uint8Array(hash.size)),
      );
      const secretN = crypto.getRandomValues(new Uint8Array(hash.size));
      for (const ek of [{ tpmtPublic: ekPublic }, { spki: encodeSpki({ type: "ecc", curve: c, x, y }) }]) {
        const out = makeCredential({ ek, akName: name, secret: secretN });
        const point = new TpmReader(unwrapTpm2b(out.encryptedSecret, "secret"), "TPMS_ECC_POINT");
        const ephX = point.tpm2b("x");
        const ephY = point.tpm2b("y");
        const z = ecdh.getSharedSecret(ekPriv, Uint8Array.of(4, ...ephX, ...ephY), true).subarray(1);
        const seed = kdfe(hash, z, "IDENTITY", ephX, x, hash.size * 8);
        expect(toHex(activate(seed, name, out.credentialBlob, hash, 256))).toBe(toHex(secretN));
      }
    });
  }
});

describe("bad inputs", () => {
  const spki = fromB64(cred.vectors[1].ekPublicKeySpkiDerB64);
  test("secret longer than the EK's digest", () => {
    expect(() => makeCredential({ ek: { spki }, akName, secret: new Uint8Array(33) })).toThrow(
      /1 to 32 bytes/,
    );
  });
  test("AK name of the wrong length", () => {
    expect(() => makeCredential({ ek: { spki }, akName: akName.subarray(0, 20), secret })).toThrow(/AK name/);
  });
  test("EK without a symmetric algorithm (a signing key)", () => {
    const ak = fromB64(activation.positive[0].akParams.Public);
    expect(() => makeCredential({ ek: { tpmtPublic: ak }, akName, secret })).toThrow(/AES in CFB/);
  });
  test("ECC EK point not on the curve", () => {
    const bad = encodeSpki({ type: "ecc", curve: P256, x: Uint8Array.of(1), y: Uint8Array.of(1) });
    expect(() => makeCredential({ ek: { spki: bad }, akName, secret })).toThrow(/not a valid P-256 point/);
  });
  test("not a PKIX key", () => {
    expect(() => makeCredential({ ek: { spki: Uint8Array.of(1, 2, 3) }, akName, secret })).toThrow(/PKIX/);
  });
});
