// CheckAKParameters on go-attestation's real AKs (accept) and its reject cases, plus
// single-field corruptions of the real AKs to reach each check.
import { describe, expect, test } from "bun:test";
import { constants, createHash, generateKeyPairSync, sign } from "node:crypto";
import {
  type AkAttestationParams,
  AkCheckError,
  checkAkParameters,
} from "../../../src/tpm/server/ak-checks.ts";
import {
  Alg,
  AttestType,
  EccCurve,
  encodeTpmtPublic,
  ObjectAttr,
  objectAttrNames,
  objectName,
  parseTpmtPublic,
  TPM_GENERATED,
  type TpmPublic,
  TpmWriter,
} from "../../../src/tpm/structures/index.ts";
import { fromB64, readVectorJson, toHex } from "./vectors.ts";

const activation = readVectorJson("go-attestation", "activation.json");

const paramsOf = (c: any): AkAttestationParams => ({
  public: fromB64(c.akParams.Public),
  create_data: fromB64(c.akParams.CreateData),
  create_attestation: fromB64(c.akParams.CreateAttestation),
  create_signature: fromB64(c.akParams.CreateSignature),
});

function rejection(p: AkAttestationParams): AkCheckError {
  try {
    checkAkParameters(p);
  } catch (e) {
    expect(e).toBeInstanceOf(AkCheckError);
    return e as AkCheckError;
  }
  throw new Error("expected the AK to be rejected");
}

describe("accepted AKs", () => {
  for (const c of activation.positive) {
    test(`${c.id}: passes and returns the AK name`, () => {
      expect(toHex(checkAkParameters(paramsOf(c)))).toBe(c.akNameHex);
    });
  }
});

describe("rejected AKs (go-attestation negatives)", () => {
  const expectedCheck: Record<string, string> = {
    "ecc-ak-insecure-curve-p224": "key",
    "rsa-ak-with-ecdsa-signature": "signature",
    "ecc-ak-with-rsa-signature": "signature",
    "synthetic-ecc-ak-curve-0x000f-garbage-signature": "parse",
    "synthetic-ecc-p256-ak-invalid-ecdsa-signature": "key",
  };
  for (const c of activation.negative) {
    test(`${c.id}: rejected by the ${expectedCheck[c.id]} check`, () => {
      const err = rejection(paramsOf(c));
      expect(err.check).toBe(expectedCheck[c.id] as any);
      expect(err.code).toBe("access_denied");
      if (c.expectedErrorSubstring) expect(err.message).toContain(c.expectedErrorSubstring);
    });
  }

  test("the synthetic P-256 AK with a valid point but r = s = 1 fails at the signature", () => {
    // Same construction as the vector, on a real P-256 point, so the key imports.
    const c = activation.positive[1];
    const p = paramsOf(c);
    p.create_signature = fromB64("ABgABAABAQABAQ==");
    expect(rejection(p).check).toBe("signature");
  });
});

describe("each check, reached by corrupting one field of a real AK", () => {
  const rsa = activation.positive[0];
  const ecc = activation.positive[1];

  test("magic", () => {
    const p = paramsOf(rsa);
    p.create_attestation[0] = 0;
    expect(rejection(p).check).toBe("magic");
  });

  test("attestation type", () => {
    const p = paramsOf(rsa);
    p.create_attestation[5] = 0x17; // TPM_ST_ATTEST_CERTIFY
    expect(rejection(p).check).toBe("attestation type");
  });

  test("creation hash", () => {
    const p = paramsOf(ecc);
    p.create_data[p.create_data.length - 3]! ^= 1;
    expect(rejection(p).check).toBe("creation hash");
  });

  test("signature bit flip", () => {
    const p = paramsOf(rsa);
    p.create_signature[p.create_signature.length - 1]! ^= 1;
    expect(rejection(p).check).toBe("signature");
  });

  test("attestation altered after signing", () => {
    const p = paramsOf(ecc);
    p.create_attestation[20]! ^= 1; // inside clockInfo: parses, hashes differently
    expect(rejection(p).check).toBe("signature");
  });

  test("name: a valid public area of a different key", () => {
    const p = paramsOf(ecc);
    const pub = parseTpmtPublic(p.public);
    if (pub.type === "ecc") pub.x = pub.x.map((b, i) => (i === 31 ? b ^ 1 : b));
    p.public = encodeTpmtPublic(pub);
    expect(rejection(p).check).toBe("name");
  });

  const withAttributes = (c: any, change: (a: number) => number) => {
    const p = paramsOf(c);
    const pub = parseTpmtPublic(p.public);
    pub.objectAttributes = change(pub.objectAttributes);
    p.public = encodeTpmtPublic(pub);
    return p;
  };

  for (const attr of ["fixedTPM", "fixedParent", "sensitiveDataOrigin", "restricted", "sign"] as const) {
    test(`attributes: without ${attr}`, () => {
      const err = rejection(withAttributes(rsa, (a) => a & ~ObjectAttr[attr]));
      expect(err.check).toBe("attributes");
      expect(err.message).toContain(attr);
    });
  }

  test("attributes: a decrypting key", () => {
    const p = withAttributes(rsa, (a) => a | ObjectAttr.decrypt);
    expect(objectAttrNames(parseTpmtPublic(p.public).objectAttributes)).toContain("decrypt");
    expect(rejection(p).message).toContain("decryption key");
  });

  test("key: RSA-1024", () => {
    const p = paramsOf(rsa);
    const pub = parseTpmtPublic(p.public);
    if (pub.type === "rsa") {
      pub.keyBits = 1024;
      pub.modulus = pub.modulus.subarray(0, 128);
    }
    p.public = encodeTpmtPublic(pub);
    const err = rejection(p);
    expect(err.check).toBe("key");
    expect(err.message).toContain("1024 bits is too weak");
  });

  test("parse: truncated public area", () => {
    const p = paramsOf(rsa);
    p.public = p.public.subarray(0, 40);
    const err = rejection(p);
    expect(err.check).toBe("parse");
    expect(err.message).toContain("AK public (TPMT_PUBLIC) is truncated");
  });
});

/**
 * An AK made here with node:crypto and assembled the way a TPM would (same structures), for
 * schemes the real vectors do not cover.
 */
function syntheticAk(
  kind: "rsassa-sha256" | "rsapss-digest-salt" | "rsapss-max-salt" | "ecdsa-p384",
): AkAttestationParams {
  const rsa = kind !== "ecdsa-p384";
  const keys = rsa
    ? generateKeyPairSync("rsa", { modulusLength: 2048 })
    : generateKeyPairSync("ec", { namedCurve: "P-384" });
  const jwk = keys.publicKey.export({ format: "jwk" });
  const b64u = (s: string | undefined) => new Uint8Array(Buffer.from(s!, "base64url"));
  const hashAlg = rsa ? Alg.SHA256 : Alg.SHA384;
  const sigAlg = kind === "rsassa-sha256" ? Alg.RSASSA : rsa ? Alg.RSAPSS : Alg.ECDSA;
  const common = {
    nameAlg: Alg.SHA256,
    objectAttributes: 0x00050072,
    authPolicy: new Uint8Array(0),
    symmetric: null,
    scheme: { scheme: sigAlg, hashAlg },
  };
  const pub: TpmPublic = rsa
    ? { type: "rsa", ...common, keyBits: 2048, exponent: 0, modulus: b64u(jwk.n) }
    : {
        type: "ecc",
        ...common,
        curveId: EccCurve.NIST_P384,
        kdf: { scheme: Alg.NULL },
        x: b64u(jwk.x),
        y: b64u(jwk.y),
      };
  const publicBytes = encodeTpmtPublic(pub);
  const createData = fromB64(activation.negative[3].akParams.CreateData);
  const attestation = new TpmWriter()
    .u32(TPM_GENERATED)
    .u16(AttestType.CREATION)
    .tpm2b(new Uint8Array(0))
    .tpm2b(Uint8Array.of(1, 2, 3))
    .u64(123n)
    .u32(1)
    .u32(2)
    .u8(1)
    .u64(0x20191023n)
    .tpm2b(objectName(publicBytes))
    .tpm2b(createHash("sha256").update(createData).digest())
    .finish();
  const hashName = rsa ? "sha256" : "sha384";
  const signature = new TpmWriter().u16(sigAlg).u16(hashAlg);
  if (rsa) {
    const padding =
      kind === "rsassa-sha256"
        ? {}
        : {
            padding: constants.RSA_PKCS1_PSS_PADDING,
            saltLength: kind === "rsapss-digest-salt" ? 32 : constants.RSA_PSS_SALTLEN_MAX_SIGN,
          };
    signature.tpm2b(sign(hashName, attestation, { key: keys.privateKey, ...padding }));
  } else {
    // Like a TPM, drop leading zero bytes of r and s (forced here by signing until one has one).
    let rs: Buffer;
    do rs = sign(hashName, attestation, { key: keys.privateKey, dsaEncoding: "ieee-p1363" });
    while (rs[0] !== 0 && rs[48] !== 0);
    const strip = (b: Buffer) => b.subarray(b.findIndex((x) => x !== 0));
    signature.tpm2b(strip(rs.subarray(0, 48))).tpm2b(strip(rs.subarray(48)));
  }
  return {
    public: publicBytes,
    create_data: createData,
    create_attestation: attestation,
    create_signature: signature.finish(),
  };
}

describe("schemes beyond the vectors (AKs made with node:crypto)", () => {
  for (const kind of ["rsassa-sha256", "rsapss-digest-salt", "rsapss-max-salt", "ecdsa-p384"] as const) {
    test(`${kind}: accepted`, () => {
      const p = syntheticAk(kind);
      expect(toHex(checkAkParameters(p))).toBe(toHex(objectName(p.public)));
    });
  }

  test("a signature whose hash differs from the AK's scheme is refused", () => {
    const p = syntheticAk("rsassa-sha256");
    p.create_signature[3] = Alg.SHA384;
    expect(rejection(p).message).toContain("signed with RSASSA/SHA384 but the AK's scheme is RSASSA/SHA256");
  });
});
