// OpenSSH's own test data (test/vectors/openssh, see its INDEX.md), read in place. A missing
// folder fails the run (see ../vectors.ts); OPENSSH_VECTORS points elsewhere.
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  importSshPublicKey,
  parseAuthorizedKey,
  parseSshCertificate,
  type SshCertificate,
  sshFingerprint,
  sshPublicKeyLine,
  verifySshCertificate,
} from "../../../src/crypto/ssh/index.ts";
import { vectorsDir } from "../vectors.ts";
import { keygenValidity, listCertificate, sshKeygen } from "./ssh-keygen.ts";

const VECTORS = vectorsDir("openssh", "OPENSSH_VECTORS");

const read = (name: string) => readFileSync(join(VECTORS, name), "utf8").trim();
const filesIn = (dir: string, suffix: string) =>
  readdirSync(join(VECTORS, dir))
    .filter((f) => f.endsWith(suffix))
    .map((f) => `${dir}/${f}`);
const keyPart = (line: string) => line.split(" ").slice(0, 2).join(" ");
const at = (seconds: number) => new Date(seconds * 1000);

const certFiles = () => [...filesIn("sshkey", "-cert.pub"), ...filesIn("authopt", ".cert")];

describe("OpenSSH vectors", () => {
  test("every certificate reads as ssh-keygen -L shows it", () => {
    for (const file of certFiles()) {
      const cert = parseSshCertificate(read(file));
      const { fields, lists } = listCertificate(join(VECTORS, file));
      expect(fields.Type).toBe(`${cert.type} ${cert.certType} certificate`);
      expect(fields["Key ID"]).toBe(`"${cert.keyId}"`);
      expect(fields.Serial).toBe(cert.serial.toString());
      expect(fields.Valid).toBe(keygenValidity(cert.validAfter, cert.validBefore));
      expect(lists.Principals).toEqual(cert.principals);
      expect(lists["Critical Options"]).toEqual(keygenOptions(cert.criticalOptions, true));
      expect(lists.Extensions).toEqual(keygenOptions(cert.extensions, false));
      expect(fields["Signing CA"]).toContain(sshFingerprint(cert.signatureKeyLine));
    }
  });

  test("fingerprints match the .fp files and ssh-keygen -l", () => {
    const keyFiles = [
      ...filesIn("sshkey", ".pub"),
      ...filesIn("hostkeys", ".pub"),
      ...filesIn("authopt", ".cert"),
    ].filter((f) => !f.endsWith(".param.pub"));
    for (const file of keyFiles) {
      const fingerprint = sshFingerprint(read(file));
      expect(sshKeygen("-l", "-f", join(VECTORS, file)).split(" ")[1]).toBe(fingerprint);
      const fpFile = file.replace(/\.pub$/, ".fp");
      if (fpFile !== file && existsSync(join(VECTORS, fpFile))) expect(read(fpFile)).toBe(fingerprint);
    }
  });

  test("host certificates in sshkey/ carry the documented fields", () => {
    const expected: [string, bigint, string][] = [
      ["rsa_1", 5n, "ed25519_1"],
      ["ecdsa_1", 7n, "ecdsa_1"],
      ["ed25519_1", 8n, "ed25519_1"],
    ];
    for (const [name, serial, caName] of expected) {
      const cert = parseSshCertificate(read(`sshkey/${name}-cert.pub`));
      expect(cert.certType).toBe("host");
      expect(cert.keyId).toBe("julius");
      expect(cert.serial).toBe(serial);
      expect(cert.principals).toEqual(["host1", "host2"]);
      expect(cert.validAfter).toEqual(at(915145200));
      expect(cert.validBefore).toEqual(at(1293836400));
      expect(cert.publicKeyLine).toBe(keyPart(read(`sshkey/${name}.pub`)));
      expect(cert.signatureKeyLine).toBe(keyPart(read(`sshkey/${caName}.pub`)));
      expect(cert.nonce.length).toBe(32);
    }
  });

  test("ed25519, ecdsa and rsa-sha2-512 signatures verify", async () => {
    for (const name of ["rsa_1-cert", "ecdsa_1-cert", "ed25519_1-cert", "rsa_1_sha512-cert"]) {
      expect(await verifySshCertificate(parseSshCertificate(read(`sshkey/${name}.pub`)))).toBe(true);
    }
    for (const file of filesIn("authopt", ".cert")) {
      expect(await verifySshCertificate(parseSshCertificate(read(file)))).toBe(true);
    }
  });

  test("RSA user certificates with options, and the SHA-1 one is refused", async () => {
    for (const name of ["rsa_1_sha1", "rsa_1_sha512"]) {
      const cert = parseSshCertificate(read(`sshkey/${name}-cert.pub`));
      expect(cert.type).toBe("ssh-rsa-cert-v01@openssh.com");
      expect(cert.certType).toBe("user");
      expect(cert.keyId).toBe("hugo");
      expect(cert.principals).toEqual(["user1", "user2"]);
      expect(cert.validAfter).toEqual(at(915112800));
      expect(cert.validBefore).toEqual(at(1293804000));
      expect(cert.criticalOptions).toEqual({ "force-command": "/bin/ls", "source-address": "10.0.0.0/8" });
      expect(Object.keys(cert.extensions)).toEqual([
        "permit-X11-forwarding",
        "permit-agent-forwarding",
        "permit-pty",
        "permit-user-rc",
      ]);
      expect(cert.signatureKeyLine).toBe(keyPart(read("sshkey/rsa_2.pub")));
    }
    const sha1 = parseSshCertificate(read("sshkey/rsa_1_sha1-cert.pub"));
    await expect(verifySshCertificate(sha1)).rejects.toThrow("SHA-1");
  });

  test("FIDO (sk) certificates parse and verify (their CAs are plain keys)", async () => {
    const cases: [string, string][] = [
      ["ecdsa_sk1", "SHA256:KC4XjSeYNROcw0KzN5WvDP9T0b3teDQcdsNfzUIUCPY"],
      ["ed25519_sk1", "SHA256:4MUN7w185JXCLY99VqoFfEUxOSwodayJ8rPo4Rw0ocg"],
    ];
    for (const [name, caFingerprint] of cases) {
      const cert = parseSshCertificate(read(`sshkey/${name}-cert.pub`));
      expect(cert.publicKeyLine).toBe(keyPart(read(`sshkey/${name}.pub`)));
      expect(sshFingerprint(cert.signatureKeyLine)).toBe(caFingerprint);
      expect(cert.validAfter).toEqual(at(915112800));
      expect(await verifySshCertificate(cert)).toBe(true);
    }
  });

  test("authopt certificates: one CA, the documented options and extensions", () => {
    const defaults = [
      "permit-X11-forwarding",
      "permit-agent-forwarding",
      "permit-port-forwarding",
      "permit-pty",
    ];
    const all = [...defaults, "permit-user-rc"];
    const expected: Record<string, { critical?: Record<string, string>; extensions: string[]; host?: true }> =
      {
        all_permit: { extensions: all },
        no_permit: { extensions: [] },
        no_agentfwd: { extensions: all.filter((e) => e !== "permit-agent-forwarding") },
        only_pty: { extensions: ["permit-pty"] },
        force_command: { critical: { "force-command": "foo" }, extensions: all },
        sourceaddr: { critical: { "source-address": "127.0.0.1/32,::1/128" }, extensions: all },
        bad_sourceaddr: { critical: { "source-address": "xxxxx" }, extensions: all },
        unknown_critical: { critical: { blah: "foo" }, extensions: all },
        host: { extensions: [], host: true },
      };
    for (const [name, want] of Object.entries(expected)) {
      const cert: SshCertificate = parseSshCertificate(read(`authopt/${name}.cert`));
      expect(cert.certType).toBe(want.host ? "host" : "user");
      expect(cert.criticalOptions).toEqual(want.critical ?? {});
      expect(Object.keys(cert.extensions)).toEqual(want.extensions);
      expect(cert.keyId).toBe("user");
      expect(cert.principals).toEqual(["user"]);
      expect(cert.validBefore).toEqual(at(946562400));
      expect(sshFingerprint(cert.signatureKeyLine)).toBe(
        "SHA256:xN+M1yQGzXKoHy6TSBC2NnyagRHa5lwAIj6fbvcytF0",
      );
      expect(Buffer.from(cert.publicKeyBlob.subarray(-32)).toString("hex")).toBe(
        "2785e0b6ed46ac084617b05e27dae4f2a96d253d3ff2bc0b3795623f09fe2068",
      );
    }
  });

  test("public keys keep their comments, and import into WebCrypto", async () => {
    expect(parseAuthorizedKey(read("sshkey/ed25519_1.pub")).comment).toBe("ED25519 test key #1");
    expect(parseAuthorizedKey(read("sshkey/rsa_1.pub")).comment).toBe("RSA test key #1");
    expect(parseAuthorizedKey(read("sshkey/ed25519_1-cert.pub")).comment).toBe("ED25519 test key #1");
    const ecdsa = await importSshPublicKey(read("sshkey/ecdsa_1.pub"));
    const point = Buffer.from(await crypto.subtle.exportKey("raw", ecdsa)).toString("hex");
    expect(point).toBe(read("sshkey/ecdsa_1.param.pub"));
    for (const name of [
      "sshkey/ed25519_1.pub",
      "sshkey/ecdsa_1.pub",
      "hostkeys/ed25519_3.pub",
      "hostkeys/ecdsa_3.pub",
    ]) {
      expect(await sshPublicKeyLine(await importSshPublicKey(read(name)))).toBe(keyPart(read(name)));
    }
    // RSA imports as an RS256 verify key (bound-keypair answers); its modulus is the vector's.
    const rsa = await importSshPublicKey(read("sshkey/rsa_1.pub"));
    const jwk = await crypto.subtle.exportKey("jwk", rsa);
    expect(Buffer.from(jwk.n!, "base64url").toString("hex")).toBe(
      read("sshkey/rsa_1.param.n").replace(/^00/, ""),
    );
    expect(rsa.algorithm.name).toBe("RSASSA-PKCS1-v1_5");
  });

  test("known_hosts: valid entries parse, the invalid ones give errors", () => {
    const lines = readFileSync(join(VECTORS, "hostkeys/known_hosts"), "utf8").split("\n");
    const outcome = (line: string): string => {
      try {
        return parseAuthorizedKey(knownHostsKeyPart(line)).type;
      } catch (err) {
        return `error: ${(err as Error).message}`;
      }
    };
    const valid = [2, 3, 4, 7, 8, 9, 12, 13, 14, 17, 18, 19, 21, 22, 23, 24, 25, 26, 27, 28, 29, 33, 34];
    for (const n of valid) expect(outcome(lines[n - 1] as string)).not.toStartWith("error");
    expect(outcome(lines[36] as string)).toContain('unknown marker "@what"');
    expect(outcome(lines[37] as string)).toContain('expected "<key type> <base64 key> [comment]"');
    expect(outcome(lines[38] as string)).toContain('expected "<key type> <base64 key> [comment]"');
    expect(outcome(lines[39] as string)).toContain("truncated");
    // The ssh-XXX blob wraps everything in one more string, so no type name comes first.
    expect(outcome(lines[40] as string)).toContain('says "ssh-XXX" but its data holds unreadable bytes');
    expect(outcome(lines[41] as string)).toContain('says "ssh-rsa" but its data holds unreadable bytes');
  });
});

/** Drop the optional marker and the host patterns of a known_hosts line (test-only parsing). */
function knownHostsKeyPart(line: string): string {
  const words = line.trim().split(/\s+/);
  if (words[0]?.startsWith("@")) {
    if (words[0] !== "@revoked" && words[0] !== "@cert-authority")
      throw new Error(`unknown marker "${words[0]}"`);
    words.shift();
  }
  return words.slice(1).join(" ");
}

/** How ssh-keygen -L lists options: flags by name, the two known critical options with their value, others as hex. */
function keygenOptions(options: Record<string, string>, critical: boolean): string[] {
  return Object.entries(options).map(([name, value]) => {
    if (value === "") return name;
    if (critical && (name === "force-command" || name === "source-address")) return `${name} ${value}`;
    return expect.stringContaining(`${name} UNKNOWN OPTION`);
  });
}
