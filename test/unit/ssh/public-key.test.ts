// Public key lines and fingerprints, against ssh-keygen.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import {
  importSshPublicKey,
  parseAuthorizedKey,
  sshFingerprint,
  sshPublicKeyLine,
} from "../../../src/crypto/ssh/index.ts";
import { generateKeyPair, makeTempDir, sshKeygen } from "./ssh-keygen.ts";

let temp: Awaited<ReturnType<typeof makeTempDir>>;
beforeAll(async () => {
  temp = await makeTempDir("public");
});
afterAll(async () => {
  await temp.remove();
});

describe("sshPublicKeyLine", () => {
  test("ECDSA P-256 matches ssh-keygen's conversion of the same key from PKCS#8/SPKI PEM", async () => {
    const pair = await generateKeyPair("p256");
    const spki = Buffer.from(await crypto.subtle.exportKey("spki", pair.publicKey)).toString("base64");
    const pem = temp.path("p256.pem");
    await writeFile(pem, `-----BEGIN PUBLIC KEY-----\n${spki}\n-----END PUBLIC KEY-----\n`);
    expect(sshKeygen("-i", "-m", "PKCS8", "-f", pem).trim()).toBe(await sshPublicKeyLine(pair.publicKey));
  });

  test("lines have the authorized_keys form without comment or newline", async () => {
    expect(await sshPublicKeyLine((await generateKeyPair("ed25519")).publicKey)).toMatch(
      /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43}$/,
    );
    expect(await sshPublicKeyLine((await generateKeyPair("p256")).publicKey)).toMatch(
      /^ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABB[A-Za-z0-9+/]{87}=$/,
    );
  });

  test("refuses private and unsupported keys", async () => {
    await expect(sshPublicKeyLine((await generateKeyPair("ed25519")).privateKey)).rejects.toThrow(
      "expected a public key",
    );
    const hmac = await crypto.subtle.generateKey({ name: "HMAC", hash: "SHA-256" }, true, ["sign"]);
    await expect(sshPublicKeyLine(hmac as CryptoKey)).rejects.toThrow("must be Ed25519 or ECDSA");
  });
});

describe("keys made by ssh-keygen", () => {
  for (const [kind, args] of [
    ["ed25519", ["-t", "ed25519"]],
    ["p256", ["-t", "ecdsa", "-b", "256"]],
  ] as const) {
    test(`${kind}: parse, fingerprint, import and write back`, async () => {
      const path = temp.path(`keygen-${kind}`);
      sshKeygen("-q", ...args, "-N", "", "-C", "alice@host  two  spaces", "-f", path);
      const line = readFileSync(`${path}.pub`, "utf8");
      const parsed = parseAuthorizedKey(line);
      expect(parsed.comment).toBe("alice@host  two  spaces");
      expect(line.startsWith(parsed.type)).toBe(true);
      expect(sshFingerprint(line)).toBe(sshKeygen("-l", "-f", `${path}.pub`).split(" ")[1] as string);
      const key = await importSshPublicKey(line);
      expect(`${await sshPublicKeyLine(key)} ${parsed.comment}\n`).toBe(line);
    });
  }

  test("an imported key verifies what its private half signed", async () => {
    const pair = await generateKeyPair("p256");
    const data = new TextEncoder().encode("hello");
    const signature = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, pair.privateKey, data);
    const imported = await importSshPublicKey(await sshPublicKeyLine(pair.publicKey));
    expect(await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, imported, signature, data)).toBe(
      true,
    );
  });
});

describe("parseAuthorizedKey line handling", () => {
  let line: string;
  beforeAll(async () => {
    line = await sshPublicKeyLine((await generateKeyPair("ed25519")).publicKey);
  });
  test("whitespace around and inside the line", () => {
    const parsed = parseAuthorizedKey(`  ${line.replace(" ", "\t ")}\t my laptop key \r\n`);
    expect(parsed.type).toBe("ssh-ed25519");
    expect(parsed.comment).toBe("my laptop key");
    expect(parsed.blob.length).toBe(51);
  });
  test("no comment", () => {
    expect(parseAuthorizedKey(line).comment).toBe("");
  });
});
