// Certificates we sign, read back by ssh-keygen -L / -l as the oracle.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFile } from "node:fs/promises";
import {
  defaultUserExtensions,
  parseSshCertificate,
  type SshCertSpec,
  signSshCertificate,
  sshFingerprint,
  sshPublicKeyLine,
  verifySshCertificate,
} from "../../../src/crypto/ssh/index.ts";
import { generateKeyPair, keygenValidity, listCertificate, makeTempDir, sshKeygen } from "./ssh-keygen.ts";

type KeyKind = "ed25519" | "p256";
const algorithmName: Record<KeyKind, string> = { ed25519: "ssh-ed25519", p256: "ecdsa-sha2-nistp256" };

let temp: Awaited<ReturnType<typeof makeTempDir>>;
beforeAll(async () => {
  temp = await makeTempDir("sign");
});
afterAll(async () => {
  await temp.remove();
});

const cases: { ca: KeyKind; subject: KeyKind; certType: "user" | "host" }[] = [];
for (const ca of ["ed25519", "p256"] as const) {
  for (const subject of ["ed25519", "p256"] as const) {
    for (const certType of ["user", "host"] as const) cases.push({ ca, subject, certType });
  }
}

function specFor(certType: "user" | "host", publicKeyLine: string, index: number): SshCertSpec {
  if (certType === "user") {
    return {
      publicKeyLine,
      certType,
      keyId: `bot-build ${index}`,
      principals: ["root", "ci-runner", "user with space"],
      validAfter: new Date(Date.UTC(2026, 0, 2, 3, 4, 5)),
      validBefore: index % 4 === 0 ? "forever" : new Date(Date.UTC(2026, 0, 2, 15, 4, 5)),
      serial: 2n ** 63n + BigInt(index), // beyond Number: must survive as uint64
      criticalOptions: { "source-address": "10.0.0.0/8,192.168.1.1/32", "force-command": "/usr/bin/true" },
      extensions: { ...defaultUserExtensions, "login@example.com": "alice" },
    };
  }
  return {
    publicKeyLine,
    certType,
    keyId: `host-${index}`,
    principals: ["node1.example.com", "10.1.2.3"],
    validAfter: new Date(0), // "always": ssh-keygen prints only the end
    validBefore: new Date(Date.UTC(2030, 5, 1)),
    serial: BigInt(index),
  };
}

describe("signSshCertificate read by ssh-keygen", () => {
  cases.forEach(({ ca, subject, certType }, index) => {
    test(`${certType} cert, ${ca} CA over ${subject} key`, async () => {
      const caPair = await generateKeyPair(ca);
      const subjectPair = await generateKeyPair(subject);
      const caLine = await sshPublicKeyLine(caPair.publicKey);
      const subjectLine = await sshPublicKeyLine(subjectPair.publicKey);
      const spec = specFor(certType, subjectLine, index);

      const certLine = await signSshCertificate(spec, caPair.privateKey, caLine);
      expect(certLine.startsWith(`${algorithmName[subject]}-cert-v01@openssh.com AAAA`)).toBe(true);
      const path = temp.path(`cert-${index}-cert.pub`);
      await writeFile(path, `${certLine} comment here\n`);

      const { fields, lists } = listCertificate(path);
      expect(fields.Type).toBe(`${algorithmName[subject]}-cert-v01@openssh.com ${certType} certificate`);
      expect(fields["Key ID"]).toBe(`"${spec.keyId}"`);
      expect(fields.Serial).toBe(spec.serial.toString());
      expect(fields.Valid).toBe(keygenValidity(spec.validAfter, spec.validBefore));
      expect(fields["Signing CA"]).toContain(`${sshFingerprint(caLine)} (using ${algorithmName[ca]})`);
      expect(lists.Principals).toEqual(spec.principals);
      const options = Object.entries(spec.criticalOptions ?? {}).map(([k, v]) => `${k} ${v}`);
      expect(lists["Critical Options"]).toEqual(options.sort());
      const extensions = Object.keys(spec.extensions ?? {});
      // ssh-keygen shows unknown extensions' data as hex; the flags by name, all in wire (sorted) order.
      const expectedExtensions = extensions
        .sort()
        .map((name) => (name.includes("@") ? expect.stringContaining(name) : name));
      expect(lists.Extensions).toEqual(expectedExtensions);

      const fingerprintLine = sshKeygen("-l", "-f", path);
      expect(fingerprintLine.split(" ")[1]).toBe(sshFingerprint(certLine));
      expect(sshFingerprint(certLine)).toBe(sshFingerprint(subjectLine));

      const parsed = parseSshCertificate(certLine);
      expect(parsed.publicKeyLine).toBe(subjectLine);
      expect(parsed.signatureKeyLine).toBe(caLine);
      expect(parsed.serial).toBe(spec.serial);
      expect(await verifySshCertificate(parsed)).toBe(true);
    });
  });

  test("extension data is a string-wrapped string, as ssh-keygen shows for unknown extensions", async () => {
    const caPair = await generateKeyPair("ed25519");
    const caLine = await sshPublicKeyLine(caPair.publicKey);
    const spec = specFor("user", caLine, 1);
    const path = temp.path("ext-cert.pub");
    await writeFile(path, await signSshCertificate(spec, caPair.privateKey, caLine));
    // "alice" is 5 bytes: inner string 00000005 616c696365, 9 bytes of data in all.
    expect(listCertificate(path).lists.Extensions).toContain(
      "login@example.com UNKNOWN OPTION: 00000005616c696365 (len 9)",
    );
  });

  test("a nonce we pass is used as is", async () => {
    const caPair = await generateKeyPair("p256");
    const caLine = await sshPublicKeyLine(caPair.publicKey);
    const nonce = new Uint8Array(32).fill(7);
    const cert = parseSshCertificate(
      await signSshCertificate(specFor("host", caLine, 2), caPair.privateKey, caLine, nonce),
    );
    expect(cert.nonce).toEqual(nonce);
  });
});

describe("signSshCertificate refuses bad specs", () => {
  let caPair: CryptoKeyPair;
  let caLine: string;
  let spec: SshCertSpec;
  beforeAll(async () => {
    caPair = await generateKeyPair("ed25519");
    caLine = await sshPublicKeyLine(caPair.publicKey);
    spec = specFor("user", caLine, 1);
  });

  test("no principals (OpenSSH would read that as 'anyone')", async () => {
    await expect(signSshCertificate({ ...spec, principals: [] }, caPair.privateKey, caLine)).rejects.toThrow(
      "at least one principal",
    );
  });
  test("empty validity window", async () => {
    const bad = { ...spec, validBefore: spec.validAfter };
    await expect(signSshCertificate(bad, caPair.privateKey, caLine)).rejects.toThrow(
      "validBefore must be later",
    );
  });
  test("invalid date", async () => {
    const bad = { ...spec, validAfter: new Date("nope") };
    await expect(signSshCertificate(bad, caPair.privateKey, caLine)).rejects.toThrow(
      "validAfter must be a valid date",
    );
  });
  test("serial out of uint64 range", async () => {
    await expect(signSshCertificate({ ...spec, serial: -1n }, caPair.privateKey, caLine)).rejects.toThrow(
      "not a uint64",
    );
  });
  test("CA private key and CA public line of different types", async () => {
    const other = await sshPublicKeyLine((await generateKeyPair("p256")).publicKey);
    await expect(signSshCertificate(spec, caPair.privateKey, other)).rejects.toThrow("they must be a pair");
  });
  test("a public key where the CA private key belongs", async () => {
    await expect(signSshCertificate(spec, caPair.publicKey, caLine)).rejects.toThrow("needs a private key");
  });
  test("a certificate as the subject key", async () => {
    const certLine = await signSshCertificate(spec, caPair.privateKey, caLine);
    await expect(
      signSshCertificate({ ...spec, publicKeyLine: certLine }, caPair.privateKey, caLine),
    ).rejects.toThrow("expected a public key line");
  });
  test("an RSA CA key", async () => {
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
    await expect(signSshCertificate(spec, rsa.privateKey, caLine)).rejects.toThrow(
      "must be Ed25519 or ECDSA",
    );
  });
});
