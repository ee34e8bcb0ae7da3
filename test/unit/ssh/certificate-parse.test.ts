// Certificates made by `ssh-keygen -s`, read and verified by our parser.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { parseSshCertificate, sshFingerprint, verifySshCertificate } from "../../../src/crypto/ssh/index.ts";
import { makeTempDir, sshKeygen } from "./ssh-keygen.ts";

let temp: Awaited<ReturnType<typeof makeTempDir>>;
beforeAll(async () => {
  temp = await makeTempDir("parse");
});
afterAll(async () => {
  await temp.remove();
});

const keygenArgs: Record<string, string[]> = {
  ed25519: ["-t", "ed25519"],
  p256: ["-t", "ecdsa", "-b", "256"],
  p384: ["-t", "ecdsa", "-b", "384"],
  rsa: ["-t", "rsa", "-b", "2048"],
};
const keyTypeOf: Record<string, string> = {
  ed25519: "ssh-ed25519",
  p256: "ecdsa-sha2-nistp256",
  p384: "ecdsa-sha2-nistp384",
  rsa: "ssh-rsa",
};

/** Generate a key with ssh-keygen; returns the private key path and the .pub line. */
function keygen(kind: string, name: string): { path: string; line: string } {
  const path = temp.path(name);
  sshKeygen(
    ...(keygenArgs[kind] as string[]),
    "-q",
    "-N",
    "",
    "-C",
    `${name} comment with spaces`,
    "-f",
    path,
  );
  return { path, line: readFileSync(`${path}.pub`, "utf8").trim() };
}

/** Sign `subject` with ssh-keygen; returns the certificate line. */
function keygenSign(ca: string, subject: string, args: string[]): string {
  sshKeygen("-q", "-s", ca, ...args, `${subject}.pub`);
  return readFileSync(`${subject}-cert.pub`, "utf8").trim();
}

const utc = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0) =>
  new Date(Date.UTC(y, mo - 1, d, h, mi, s));

describe("certificates from ssh-keygen -s", () => {
  const pairs: [string, string][] = [
    ["ed25519", "ed25519"],
    ["ed25519", "p256"],
    ["p256", "ed25519"],
    ["p256", "p256"],
    ["p384", "rsa"],
    ["rsa", "ed25519"],
  ];
  for (const [caKind, subjectKind] of pairs) {
    test(`user cert by ${caKind} CA over ${subjectKind} key, with options`, async () => {
      const ca = keygen(caKind, `ca-${caKind}-${subjectKind}`);
      const subject = keygen(subjectKind, `user-${caKind}-${subjectKind}`);
      const line = keygenSign(ca.path, subject.path, [
        ...["-I", "alice@laptop (ticket 42)", "-n", "alice,root,deploy", "-z", "18446744073709551614"],
        ...["-V", "20260102030405:20260203040506"],
        ...["-O", "clear", "-O", "permit-pty", "-O", "permit-agent-forwarding"],
        ...["-O", "force-command=/usr/bin/uptime -p", "-O", "source-address=10.0.0.0/8,::1/128"],
        ...["-O", "extension:login@example.com=alice", "-O", "critical:verify-required"],
      ]);
      const cert = parseSshCertificate(line);
      expect(cert.type).toBe(`${keyTypeOf[subjectKind]}-cert-v01@openssh.com`);
      expect(cert.keyType).toBe(keyTypeOf[subjectKind] as string);
      expect(cert.certType).toBe("user");
      expect(cert.keyId).toBe("alice@laptop (ticket 42)");
      expect(cert.serial).toBe(18446744073709551614n);
      expect(cert.principals).toEqual(["alice", "root", "deploy"]);
      expect(cert.validAfter).toEqual(utc(2026, 1, 2, 3, 4, 5));
      expect(cert.validBefore).toEqual(utc(2026, 2, 3, 4, 5, 6));
      expect(cert.criticalOptions).toEqual({
        "force-command": "/usr/bin/uptime -p",
        "source-address": "10.0.0.0/8,::1/128",
        "verify-required": "",
      });
      expect(cert.extensions).toEqual({
        "login@example.com": "alice",
        "permit-agent-forwarding": "",
        "permit-pty": "",
      });
      expect(cert.nonce.length).toBe(32);
      expect(cert.publicKeyLine).toBe(subject.line.split(" ").slice(0, 2).join(" "));
      expect(cert.signatureKeyLine).toBe(ca.line.split(" ").slice(0, 2).join(" "));
      expect(sshFingerprint(line)).toBe(sshFingerprint(subject.line));
      expect(await verifySshCertificate(cert)).toBe(true);
    });
  }

  test("host cert valid forever with the default (no) extensions", async () => {
    const ca = keygen("ed25519", "ca-host");
    const host = keygen("p256", "host");
    const cert = parseSshCertificate(
      keygenSign(ca.path, host.path, [
        "-h",
        "-I",
        "node-1",
        "-n",
        "node1.example.com",
        "-V",
        "always:forever",
      ]),
    );
    expect(cert.certType).toBe("host");
    expect(cert.serial).toBe(0n);
    expect(cert.validAfter).toEqual(new Date(0));
    expect(cert.validBefore).toBe("forever");
    expect(cert.criticalOptions).toEqual({});
    expect(cert.extensions).toEqual({});
    expect(await verifySshCertificate(cert)).toBe(true);
  });

  test("user cert with the default extensions and forever validity", async () => {
    const ca = keygen("p256", "ca-default");
    const user = keygen("ed25519", "user-default");
    const cert = parseSshCertificate(
      keygenSign(ca.path, user.path, ["-I", "u", "-n", "u", "-V", "20200101:forever"]),
    );
    expect(cert.validAfter).toEqual(utc(2020, 1, 1));
    expect(cert.validBefore).toBe("forever");
    expect(Object.keys(cert.extensions)).toEqual([
      "permit-X11-forwarding",
      "permit-agent-forwarding",
      "permit-port-forwarding",
      "permit-pty",
      "permit-user-rc",
    ]);
  });
});

describe("tampering is detected", () => {
  let line: string;
  beforeAll(() => {
    const ca = keygen("p256", "ca-tamper");
    const user = keygen("ed25519", "user-tamper");
    line = keygenSign(ca.path, user.path, ["-I", "keyid-to-change", "-n", "alice"]);
  });

  function tampered(mutate: (blob: Buffer) => void): string {
    const [type, base64] = line.split(" ") as [string, string];
    const blob = Buffer.from(base64, "base64");
    mutate(blob);
    return `${type} ${blob.toString("base64")}`;
  }

  test("untouched certificate verifies", async () => {
    expect(await verifySshCertificate(parseSshCertificate(line))).toBe(true);
  });
  test("one changed byte in the key id", async () => {
    const changed = tampered((blob) => {
      blob[blob.indexOf("keyid-to-change")] = "K".charCodeAt(0);
    });
    const cert = parseSshCertificate(changed);
    expect(cert.keyId).toBe("Keyid-to-change");
    expect(await verifySshCertificate(cert)).toBe(false);
  });
  test("one changed byte in the signature", async () => {
    const changed = tampered((blob) => {
      blob[blob.length - 1] = (blob[blob.length - 1] as number) ^ 1;
    });
    expect(await verifySshCertificate(parseSshCertificate(changed))).toBe(false);
  });
  test("every single-byte change in the signed part fails parsing or verification", async () => {
    const signedLength = parseSshCertificate(line).signedBytes.length;
    for (let i = 0; i < signedLength; i++) {
      const changed = tampered((blob) => {
        blob[i] = (blob[i] as number) ^ 0x40;
      });
      let verdict: boolean | string;
      try {
        verdict = await verifySshCertificate(parseSshCertificate(changed));
      } catch (err) {
        verdict = (err as Error).message;
      }
      if (verdict === true) throw new Error(`changing byte ${i} went unnoticed`);
    }
  });
});
