// encodeOpenSshPrivateKey: files that ssh-keygen reads and, as a CA, signs with.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, statSync } from "node:fs";
import {
  encodeOpenSshPrivateKey,
  parseSshCertificate,
  sshPublicKeyLine,
  verifySshCertificate,
} from "../../../src/crypto/ssh/index.ts";
import { generateKeyPair, makeTempDir, sshKeygen, writePrivate } from "./ssh-keygen.ts";

let temp: Awaited<ReturnType<typeof makeTempDir>>;
beforeAll(async () => {
  temp = await makeTempDir("private");
});
afterAll(async () => {
  await temp.remove();
});

async function writeKeyFile(name: string, pair: CryptoKeyPair, comment?: string): Promise<string> {
  const path = temp.path(name);
  await writePrivate(path, await encodeOpenSshPrivateKey(pair, comment));
  expect(statSync(path).mode & 0o777).toBe(0o600); // ssh refuses identity files others can read
  return path;
}

/** Sign a fresh ssh-keygen user key with `caPath` as the CA; our verifier must accept it under `caLine`. */
async function expectUsableAsCa(caPath: string, caLine: string, name: string): Promise<void> {
  const userPath = temp.path(`${name}-user`);
  sshKeygen("-q", "-t", "ed25519", "-N", "", "-f", userPath);
  sshKeygen("-q", "-s", caPath, "-I", "signed-by-our-key", "-n", "someone", `${userPath}.pub`);
  const cert = parseSshCertificate(readFileSync(`${userPath}-cert.pub`, "utf8"));
  expect(cert.signatureKeyLine).toBe(caLine);
  expect(await verifySshCertificate(cert)).toBe(true);
}

describe("encodeOpenSshPrivateKey", () => {
  for (const kind of ["ed25519", "p256"] as const) {
    test(`${kind}: ssh-keygen -y prints our public key line and comment`, async () => {
      const pair = await generateKeyPair(kind);
      const path = await writeKeyFile(`${kind}-key`, pair, "bot key with spaces");
      expect(sshKeygen("-y", "-f", path).trim()).toBe(
        `${await sshPublicKeyLine(pair.publicKey)} bot key with spaces`,
      );
    });

    test(`${kind}: ssh-keygen signs with it (the private half is right)`, async () => {
      const pair = await generateKeyPair(kind);
      const path = await writeKeyFile(`${kind}-ca`, pair);
      await expectUsableAsCa(path, await sshPublicKeyLine(pair.publicKey), `${kind}-ca`);
    });

    test(`${kind}: every padding length reads back`, async () => {
      const pair = await generateKeyPair(kind);
      const line = await sshPublicKeyLine(pair.publicKey);
      for (let length = 0; length < 8; length++) {
        const comment = "c".repeat(length);
        const path = await writeKeyFile(`${kind}-pad-${length}`, pair, comment);
        expect(sshKeygen("-y", "-f", path).trim()).toBe(`${line} ${comment}`.trim());
      }
    });
  }

  test("the PEM text looks as ssh-keygen writes it", async () => {
    const text = await encodeOpenSshPrivateKey(await generateKeyPair("ed25519"));
    const lines = text.split("\n");
    expect(lines[0]).toBe("-----BEGIN OPENSSH PRIVATE KEY-----");
    expect(lines.at(-2)).toBe("-----END OPENSSH PRIVATE KEY-----");
    expect(lines.at(-1)).toBe("");
    expect(lines.slice(1, -2).every((l) => l.length > 0 && l.length <= 70)).toBe(true);
    const body = Buffer.from(lines.slice(1, -2).join(""), "base64");
    expect(body.subarray(0, 15).toString("latin1")).toBe("openssh-key-v1\0");
  });

  test("a P-256 scalar with a leading zero byte is written as a minimal mpint", async () => {
    // PKCS#8 without the optional public key, so WebCrypto derives it from d = 00 5a 5a ... 5a.
    // (OpenSSH refuses scalars much below 2^128, so a tiny d would not do.)
    const d = "00" + "5a".repeat(31);
    const pkcs8 = Buffer.from(
      "3041020100301306072a8648ce3d020106082a8648ce3d030107042730250201010420" + d,
      "hex",
    );
    const algorithm = { name: "ECDSA", namedCurve: "P-256" };
    const privateKey = await crypto.subtle.importKey("pkcs8", pkcs8, algorithm, true, ["sign"]);
    const { x, y } = await crypto.subtle.exportKey("jwk", privateKey);
    const publicKey = await crypto.subtle.importKey(
      "jwk",
      { kty: "EC", crv: "P-256", x, y },
      algorithm,
      true,
      ["verify"],
    );
    const pair: CryptoKeyPair = { privateKey, publicKey };
    const text = await encodeOpenSshPrivateKey(pair);
    const body = Buffer.from(text.split("\n").slice(1, -2).join(""), "base64");
    expect(body.includes(Buffer.from("0000001f" + "5a".repeat(31), "hex"))).toBe(true); // mpint of 31 bytes
    const path = await writeKeyFile("p256-leading-zero", pair);
    const line = await sshPublicKeyLine(publicKey);
    expect(sshKeygen("-y", "-f", path).trim()).toBe(line);
    await expectUsableAsCa(path, line, "p256-leading-zero");
  });

  test("refuses keys it cannot write", async () => {
    const locked = await generateKeyPair("ed25519", false);
    await expect(encodeOpenSshPrivateKey(locked)).rejects.toThrow("not extractable");
    const a = await generateKeyPair("ed25519");
    const b = await generateKeyPair("ed25519");
    await expect(
      encodeOpenSshPrivateKey({ privateKey: a.privateKey, publicKey: b.publicKey }),
    ).rejects.toThrow("does not belong to the private key");
    const p256 = await generateKeyPair("p256");
    await expect(
      encodeOpenSshPrivateKey({ privateKey: a.privateKey, publicKey: p256.publicKey }),
    ).rejects.toThrow("key pair mismatch");
  });
});
