// Bad input of every kind gives one clear SshFormatError, never a crash of another kind.
import { beforeAll, describe, expect, test } from "bun:test";
import {
  importSshPublicKey,
  parseAuthorizedKey,
  parseSshCertificate,
  SshFormatError,
  signSshCertificate,
  sshFingerprint,
  sshPublicKeyLine,
  verifySshCertificate,
} from "../../../src/crypto/ssh/index.ts";
import { decodeOptions } from "../../../src/crypto/ssh/options.ts";
import { SshWriter } from "../../../src/crypto/ssh/wire.ts";
import { generateKeyPair } from "./ssh-keygen.ts";

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");
const lineOf = (type: string, blob: Uint8Array) => `${type} ${b64(blob)}`;

/** The message of the SshFormatError that `fn` throws; fails the test on any other outcome. */
function formatError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof SshFormatError) return err.message;
    throw new Error(`expected an SshFormatError, got ${err}`);
  }
  throw new Error("expected an SshFormatError, nothing was thrown");
}

let caLine: string;
let certLine: string;
let certBlob: Uint8Array;
beforeAll(async () => {
  const ca = await generateKeyPair("ed25519");
  caLine = await sshPublicKeyLine(ca.publicKey);
  const subjectLine = await sshPublicKeyLine((await generateKeyPair("ed25519")).publicKey);
  const spec = {
    publicKeyLine: subjectLine,
    certType: "user" as const,
    keyId: "k",
    principals: ["p"],
    serial: 1n,
  };
  certLine = await signSshCertificate(
    { ...spec, validAfter: new Date(0), validBefore: "forever", extensions: { "permit-pty": "" } },
    ca.privateKey,
    caLine,
  );
  certBlob = new Uint8Array(Buffer.from(certLine.split(" ")[1] as string, "base64"));
});

describe("key lines", () => {
  test("garbage lines", () => {
    expect(formatError(() => parseAuthorizedKey(""))).toContain(
      'expected "<key type> <base64 key> [comment]"',
    );
    expect(formatError(() => parseAuthorizedKey("hello"))).toContain('got "hello"');
    expect(formatError(() => parseAuthorizedKey("ssh-ed25519 !!!!"))).toContain("not valid base64");
    expect(formatError(() => parseAuthorizedKey("ssh-ed25519 AAAAC3Nz=aC1"))).toContain("not valid base64");
    expect(formatError(() => parseAuthorizedKey(`${caLine}\n${caLine}`))).toContain("several lines");
    expect(formatError(() => parseAuthorizedKey(null as unknown as string))).toContain(
      "expected an OpenSSH key line",
    );
  });

  test("truncated key blob", () => {
    expect(formatError(() => parseAuthorizedKey("ssh-ed25519 AAAA"))).toContain("truncated");
    const full = Buffer.from(caLine.split(" ")[1] as string, "base64");
    const cut = lineOf("ssh-ed25519", full.subarray(0, full.length - 1));
    expect(formatError(() => parseAuthorizedKey(cut))).toContain(
      "is truncated: public key needs 32 bytes at offset 19, only 31 left",
    );
  });

  test("wrong, unknown and mismatched types", () => {
    const p256Blob = new SshWriter()
      .string("ecdsa-sha2-nistp256")
      .string("nistp256")
      .string(new Uint8Array(65).fill(4))
      .finish();
    expect(formatError(() => parseAuthorizedKey(lineOf("ssh-ed25519", p256Blob)))).toBe(
      'the key line says "ssh-ed25519" but its data holds "ecdsa-sha2-nistp256"',
    );
    const foo = new SshWriter().string("ssh-foo").string("x").finish();
    expect(formatError(() => parseAuthorizedKey(lineOf("ssh-foo", foo)))).toContain(
      'unknown key type "ssh-foo"',
    );
    const wrongCurve = new SshWriter()
      .string("ecdsa-sha2-nistp256")
      .string("nistp384")
      .string(new Uint8Array(97))
      .finish();
    expect(formatError(() => parseAuthorizedKey(lineOf("ecdsa-sha2-nistp256", wrongCurve)))).toContain(
      'names curve "nistp384"',
    );
    const shortEd = new SshWriter().string("ssh-ed25519").string(new Uint8Array(31)).finish();
    expect(formatError(() => parseAuthorizedKey(lineOf("ssh-ed25519", shortEd)))).toContain(
      "must be 32 bytes, got 31",
    );
    const negativeRsa = new SshWriter()
      .string("ssh-rsa")
      .string(new Uint8Array([1, 0, 1]))
      .string(new Uint8Array([0x80]));
    expect(formatError(() => parseAuthorizedKey(lineOf("ssh-rsa", negativeRsa.finish())))).toContain(
      "negative mpint",
    );
    const trailing = new SshWriter().string("ssh-ed25519").string(new Uint8Array(32)).uint32(0).finish();
    expect(formatError(() => parseAuthorizedKey(lineOf("ssh-ed25519", trailing)))).toContain(
      "4 unexpected trailing bytes",
    );
  });

  test("a certificate where a plain key is wanted, and the other way round", async () => {
    await expect(importSshPublicKey(certLine)).rejects.toThrow(
      "got a ssh-ed25519-cert-v01@openssh.com certificate",
    );
    expect(formatError(() => parseSshCertificate(caLine))).toBe(
      'expected an OpenSSH certificate, got a "ssh-ed25519" key line',
    );
    expect(formatError(() => sshFingerprint("garbage"))).toContain("expected");
  });
});

describe("certificates", () => {
  test("every truncation is reported, never crashes", () => {
    for (let length = 0; length < certBlob.length; length++) {
      const message = formatError(() =>
        parseSshCertificate(lineOf(certLine.split(" ")[0] as string, certBlob.subarray(0, length))),
      );
      expect(message.length).toBeGreaterThan(10);
    }
  });

  test("trailing bytes after the signature", () => {
    const longer = new Uint8Array([...certBlob, 0]);
    expect(
      formatError(() => parseSshCertificate(lineOf(certLine.split(" ")[0] as string, longer))),
    ).toContain("certificate has 1 unexpected trailing bytes");
  });

  test("random bytes after a valid type name are refused cleanly", () => {
    for (let i = 0; i < 300; i++) {
      const junk = crypto.getRandomValues(new Uint8Array(Math.floor(Math.random() * 200)));
      const blob = new SshWriter().string("ssh-ed25519-cert-v01@openssh.com").bytes(junk).finish();
      formatError(() => parseSshCertificate(lineOf("ssh-ed25519-cert-v01@openssh.com", blob)));
    }
  });

  test("certificate type code other than user/host", () => {
    // ed25519 subject: type (4+32) + nonce (4+32) + key (4+32) + serial (8) = offset 116.
    const changed = new Uint8Array(certBlob);
    new DataView(changed.buffer).setUint32(116, 3);
    expect(formatError(() => parseSshCertificate(lineOf(certLine.split(" ")[0] as string, changed)))).toBe(
      "certificate type code must be 1 (user) or 2 (host), got 3",
    );
  });

  test("a wrong or malformed signature verifies false", async () => {
    const cert = parseSshCertificate(certLine);
    const body = new SshWriter().string(new Uint8Array(64)).finish();
    const wrongAlgorithm = new SshWriter().string("ecdsa-sha2-nistp256").bytes(body).finish();
    expect(await verifySshCertificate({ ...cert, signature: wrongAlgorithm })).toBe(false);
    expect(await verifySshCertificate({ ...cert, signature: new Uint8Array([1, 2, 3]) })).toBe(false);
    const zeros = new SshWriter().string("ssh-ed25519").bytes(body).finish();
    expect(await verifySshCertificate({ ...cert, signature: zeros })).toBe(false);
  });
});

describe("option lists", () => {
  test("duplicate names", () => {
    const packed = new SshWriter().string("permit-pty").string("").string("permit-pty").string("").finish();
    expect(formatError(() => decodeOptions(packed, "extensions"))).toBe(
      'extensions: "permit-pty" appears twice',
    );
  });
  test("data that is not one wrapped string", () => {
    const packed = new SshWriter().string("force-command").string("/bin/sh").finish();
    expect(formatError(() => decodeOptions(packed, "critical options"))).toContain(
      'critical options: data of "force-command" is truncated',
    );
  });
});
