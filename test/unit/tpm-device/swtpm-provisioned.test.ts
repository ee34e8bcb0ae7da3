// The device layer against a provisioned swtpm (persistent EKs, EK certificates in NV), with
// tpm2-tools and openssl as oracles. Every test ends with nothing left loaded in the TPM:
// swtpm has 3 object slots and no resource manager, so a leak would show up at once.

import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Esys } from "../../../src/tpm/device/esys.ts";
import { loadLibraries, openTpm, type Tpm, TpmError } from "../../../src/tpm/device/index.ts";
import { readNvIndex } from "../../../src/tpm/device/nv.ts";
import { parseTpmsAttest } from "../../../src/tpm/structures/attest.ts";
import { AttestType, ObjectAttr } from "../../../src/tpm/structures/constants.ts";
import { objectName, parseTpmtPublic } from "../../../src/tpm/structures/public.ts";
import { parseTpmtSignature } from "../../../src/tpm/structures/signature.ts";
import { ExitCode } from "../../../src/util/errors.ts";
import { cleanupAfterFile } from "../../harness/proc.ts";
import { type SwtpmHandle, startSwtpm } from "../../harness/swtpm.ts";
import { loadedObjectsAndSessions, makeCredential, tpm2 } from "../../harness/tpm2-tools.ts";

cleanupAfterFile();

let sw: SwtpmHandle;
let tpm: Tpm;
let ekPublicFile: string;

beforeAll(async () => {
  sw = await startSwtpm();
  ekPublicFile = join(sw.dir, "ek.pub");
  tpm2(sw, ["tpm2_readpublic", "-c", "0x81010001", "-o", ekPublicFile]);
  tpm = await openTpm({ tcti: sw.tcti });
});
afterAll(() => tpm?.close());
afterEach(() => expect(loadedObjectsAndSessions(sw)).toEqual([]));

const sha256 = (b: Uint8Array) => new Bun.CryptoHasher("sha256").update(b).digest("hex");
const spkiOfPem = (pem: string) =>
  new Uint8Array(
    Bun.spawnSync(["openssl", "pkey", "-pubin", "-outform", "DER"], { stdin: Buffer.from(pem) }).stdout,
  );

describe("EK", () => {
  test("RSA: the persistent EK, its hash as openssl computes it, and the certificate in NV", async () => {
    const ek = await tpm.ekInfo();
    expect(ek.source).toBe("persistent 0x81010001");
    tpm2(sw, ["tpm2_readpublic", "-c", "0x81010001", "-f", "pem", "-o", join(sw.dir, "ek.pem")]);
    const toolsSpki = spkiOfPem(readFileSync(join(sw.dir, "ek.pem"), "utf8"));
    expect(ek.ekPubHash).toBe(sha256(toolsSpki));
    expect(Buffer.from(ek.ekPublicDer).equals(Buffer.from(toolsSpki))).toBe(true);
    expect(ek.ekCertDer).toEqual(new Uint8Array(readFileSync(sw.ekCertFiles.rsa!)));
    expect(ek.ekCertIndex).toBe(0x01c00002);
    expect(ek.ekCertSerial).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2})*$/);
    expect(ek.warnings).toEqual([]);
  });

  test("ECC: swtpm's P-384 EK in the high range, with its certificate", async () => {
    const ek = await tpm.ekInfo("ecc");
    expect(ek.source).toBe("persistent 0x81010016");
    expect(ek.ekPublic.type === "ecc" && ek.ekPublic.curveId).toBe(0x0004); // NIST P-384
    expect(ek.ekCertDer).toEqual(new Uint8Array(readFileSync(sw.ekCertFiles.ecc!)));
    expect(ek.ekCertIndex).toBe(0x01c00016);
  });

  test("NV is read in chunks: a 100-byte chunk size gives the same bytes as tpm2_nvread", () => {
    const out = join(sw.dir, "nv.bin");
    tpm2(sw, ["tpm2_nvread", "0x1c00002", "-o", out]);
    const esys = Esys.open(loadLibraries(), sw.tcti);
    try {
      expect(readNvIndex(esys, 0x01c00002, 100)).toEqual(new Uint8Array(readFileSync(out)));
    } finally {
      esys.close();
    }
  });
});

describe("AK", () => {
  test("attestation parameters: the §6.3 key, certified by itself as created in this TPM", async () => {
    const ak = await tpm.createAk();
    try {
      const pub = parseTpmtPublic(ak.params.public);
      const attrs = ObjectAttr;
      const required =
        attrs.sign |
        attrs.restricted |
        attrs.fixedTPM |
        attrs.fixedParent |
        attrs.sensitiveDataOrigin |
        attrs.userWithAuth |
        attrs.noDA;
      expect(pub.objectAttributes).toBe(required);
      expect(pub.type).toBe("rsa");
      expect(pub.type === "rsa" && pub.keyBits).toBe(2048);
      expect(pub.scheme).toEqual({ scheme: 0x0014, hashAlg: 0x000b });
      expect(ak.name).toEqual(objectName(ak.params.public));

      const attest = parseTpmsAttest(ak.params.create_attestation);
      expect(attest.magic).toBe(0xff544347);
      expect(attest.type).toBe(AttestType.CREATION);
      expect(attest.creation!.objectName).toEqual(ak.name);
      expect(attest.creation!.creationHash).toEqual(
        new Uint8Array(new Bun.CryptoHasher("sha256").update(ak.params.create_data).digest()),
      );
      const sig = parseTpmtSignature(ak.params.create_signature);
      expect(sig.sigAlg).toBe(0x0014);

      // The signature verifies with the AK's public key (openssl as the verifier).
      const key = await crypto.subtle.importKey(
        "jwk",
        {
          kty: "RSA",
          n: Buffer.from(pub.type === "rsa" ? pub.modulus : []).toString("base64url"),
          e: "AQAB",
        },
        { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
        false,
        ["verify"],
      );
      const signature = sig.sigAlg === 0x0014 ? sig.signature : new Uint8Array();
      expect(
        await crypto.subtle.verify(
          "RSASSA-PKCS1-v1_5",
          key,
          new Uint8Array(signature),
          new Uint8Array(ak.params.create_attestation),
        ),
      ).toBe(true);
    } finally {
      ak.close();
    }
  });

  test("activation returns the secret of a credential tpm2_makecredential made for this EK and AK", async () => {
    const ak = await tpm.createAk();
    try {
      const secret = crypto.getRandomValues(new Uint8Array(32));
      const cred = makeCredential(sw.dir, ekPublicFile, ak.name, secret);
      expect(await ak.activate(cred.credentialBlob, cred.secret)).toEqual(secret);
    } finally {
      ak.close();
    }
  });

  test("activation with swtpm's P-384 EK, which its password authorises (userWithAuth)", async () => {
    const eccPublic = join(sw.dir, "ek-ecc.pub");
    tpm2(sw, ["tpm2_readpublic", "-c", "0x81010016", "-o", eccPublic]);
    const ecc = await openTpm({ tcti: sw.tcti, ekAlgorithm: "ecc" });
    try {
      const ak = await ecc.createAk();
      const secret = crypto.getRandomValues(new Uint8Array(32));
      const cred = makeCredential(sw.dir, eccPublic, ak.name, secret);
      expect(await ak.activate(cred.credentialBlob, cred.secret)).toEqual(secret);
    } finally {
      ecc.close();
    }
  });

  test("create/activate cycles do not exhaust the 3 object slots", async () => {
    for (let i = 0; i < 8; i++) {
      const ak = await tpm.createAk();
      try {
        const secret = crypto.getRandomValues(new Uint8Array(16));
        const cred = makeCredential(sw.dir, ekPublicFile, ak.name, secret);
        expect(await ak.activate(cred.credentialBlob, cred.secret)).toEqual(secret);
      } finally {
        ak.close();
      }
    }
  });

  test("a wrong credential fails with TPM_RC_INTEGRITY, flushes its session, and the AK still works", async () => {
    const ak = await tpm.createAk();
    try {
      const secret = crypto.getRandomValues(new Uint8Array(32));
      const cred = makeCredential(sw.dir, ekPublicFile, ak.name, secret);
      const tampered = cred.credentialBlob.slice();
      tampered[10]! ^= 0x01;
      const err = await ak.activate(tampered, cred.secret).catch((e) => e);
      expect(err).toBeInstanceOf(TpmError);
      expect(err.exitCode).toBe(ExitCode.error);
      expect(err.message).toContain("integrity check failed");
      // Another AK's name: the same error.
      const other = makeCredential(
        sw.dir,
        ekPublicFile,
        objectName(new Uint8Array(ak.params.public).fill(1, 40, 41)),
        secret,
      );
      await expect(ak.activate(other.credentialBlob, other.secret)).rejects.toThrow(
        /not made for this TPM's EK/,
      );
      // Garbage is refused before it reaches the TPM.
      await expect(ak.activate(Uint8Array.of(0, 9, 1), cred.secret)).rejects.toThrow(
        /malformed: not a TPM2B_ID_OBJECT/,
      );
      expect(await ak.activate(cred.credentialBlob, cred.secret)).toEqual(secret);
    } finally {
      ak.close();
    }
  });

  test("the slot limit is real, a createAk that hits it cleans up, and Tpm.close flushes open AKs", async () => {
    const other = await openTpm({ tcti: sw.tcti });
    const first = await other.createAk();
    const second = await other.createAk();
    // Two AKs and the SRK fill the 3 slots; TPM2_Create needs a scratch slot of its own, so a
    // third AK cannot be made. The SRK made for it is flushed all the same.
    const err = await other.createAk().catch((e) => e);
    expect(err).toBeInstanceOf(TpmError);
    expect(err.exitCode).toBe(ExitCode.tpmUnavailable);
    expect(err.message).toContain("no free object or session slots");
    expect(tpm2(sw, ["tpm2_getcap", "handles-transient"]).trim().split("\n")).toHaveLength(2);
    // Activation still fits next to them (the persistent EK is loaded only during the command).
    const secret = crypto.getRandomValues(new Uint8Array(32));
    const cred = makeCredential(sw.dir, ekPublicFile, second.name, secret);
    expect(await second.activate(cred.credentialBlob, cred.secret)).toEqual(secret);
    other.close();
    expect(first.params.public.length).toBeGreaterThan(0);
    await expect(first.activate(cred.credentialBlob, cred.secret)).rejects.toThrow(/closed/);
  });

  test("a simulator that goes away mid-session gives the simulator message, exit 3", async () => {
    const ak = await tpm.createAk();
    await sw.stop();
    try {
      const err = await tpm.ekInfo().catch((e) => e);
      expect(err).toBeInstanceOf(TpmError);
      expect(err.exitCode).toBe(ExitCode.tpmUnavailable);
      expect(err.message).toContain(`cannot reach the TPM simulator at 127.0.0.1:${sw.port}`);
    } finally {
      ak.close(); // nothing to flush any more: must not throw
      // Last test of the file: `tpm`'s connection is gone. The restart (TPM2_Startup CLEAR)
      // drops the AK that was loaded when swtpm stopped, so afterEach finds the TPM empty.
      await sw.restart();
    }
  });
});
