// A TPM with only its endorsement seed: no persistent EK, no certificate (what most software
// TPMs and some hardware ship as). tbot then derives the EK from the TCG template for each
// use and flushes it; the hash must equal what tpm2_createek derives from the same template.

import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { openTpm, type Tpm } from "../../../src/tpm/device/index.ts";
import { cleanupAfterFile } from "../../harness/proc.ts";
import { type SwtpmHandle, startSwtpm } from "../../harness/swtpm.ts";
import { handles, loadedObjectsAndSessions, makeCredential, tpm2 } from "../../harness/tpm2-tools.ts";

cleanupAfterFile();

let sw: SwtpmHandle;
let tpm: Tpm;

beforeAll(async () => {
  sw = await startSwtpm({ ekCerts: false });
  tpm = await openTpm({ tcti: sw.tcti });
});
afterAll(() => tpm?.close());
afterEach(() => expect(loadedObjectsAndSessions(sw)).toEqual([]));

const sha256 = (b: Uint8Array) => new Bun.CryptoHasher("sha256").update(b).digest("hex");

/**
 * tpm2_createek's EK for `alg`: PEM, and the path of its TPM2B_PUBLIC. tpm2_createek leaves
 * the EK loaded (no resource manager), so flush every transient object afterwards.
 */
function toolsEk(alg: "rsa" | "ecc"): { pem: string; tss: string } {
  const pem = join(sw.dir, `ek-${alg}.pem`);
  const tss = join(sw.dir, `ek-${alg}.pub`);
  const ctx = join(sw.dir, `ek-${alg}.ctx`);
  tpm2(sw, ["tpm2_createek", "-G", alg, "-c", ctx, "-u", pem, "-f", "pem"]);
  tpm2(sw, ["tpm2_createek", "-G", alg, "-c", ctx, "-u", tss]);
  tpm2(sw, ["tpm2_flushcontext", "-t"]);
  return { pem: readFileSync(pem, "utf8"), tss };
}

test("no persistent EK and no certificate: the EK is derived from the template", async () => {
  expect(handles(sw, "persistent")).toEqual([]);
  const ek = await tpm.ekInfo();
  expect(ek.source).toBe("created from RSA-2048 (template L-1)");
  expect(ek.ekCertDer).toBeUndefined();
  expect(ek.ekCertSerial).toBeUndefined();
  const der = Bun.spawnSync(["openssl", "pkey", "-pubin", "-outform", "DER"], {
    stdin: Buffer.from(toolsEk("rsa").pem),
  });
  expect(ek.ekPubHash).toBe(sha256(new Uint8Array(der.stdout)));
});

test("ECC: the L-2 P-256 EK, as tpm2_createek -G ecc derives it", async () => {
  const ek = await tpm.ekInfo("ecc");
  expect(ek.source).toBe("created from ECC P-256 (template L-2)");
  expect(ek.ekPublic.type === "ecc" && ek.ekPublic.curveId).toBe(0x0003);
  const der = Bun.spawnSync(["openssl", "pkey", "-pubin", "-outform", "DER"], {
    stdin: Buffer.from(toolsEk("ecc").pem),
  });
  expect(ek.ekPubHash).toBe(sha256(new Uint8Array(der.stdout)));
});

test("activation with a derived EK: two AKs and the EK fit the 3 slots, cycle after cycle", async () => {
  const ekPublic = toolsEk("rsa").tss; // before createAk: it flushes every transient object
  for (let i = 0; i < 3; i++) {
    const a = await tpm.createAk();
    const b = await tpm.createAk();
    try {
      for (const ak of [a, b]) {
        const secret = crypto.getRandomValues(new Uint8Array(32));
        const cred = makeCredential(sw.dir, ekPublic, ak.name, secret);
        expect(await ak.activate(cred.credentialBlob, cred.secret)).toEqual(secret);
      }
    } finally {
      a.close();
      b.close();
    }
  }
});

test("activation with the ECC EK (credential made by tpm2-tools with ECDH)", async () => {
  const ekPublic = toolsEk("ecc").tss; // before createAk: it flushes every transient object
  const ecc = await openTpm({ tcti: sw.tcti, ekAlgorithm: "ecc" });
  try {
    const ak = await ecc.createAk();
    const secret = crypto.getRandomValues(new Uint8Array(32));
    const cred = makeCredential(sw.dir, ekPublic, ak.name, secret);
    expect(await ak.activate(cred.credentialBlob, cred.secret)).toEqual(secret);
  } finally {
    ecc.close();
  }
});
