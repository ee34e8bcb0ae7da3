// `tbot tpm identify` on the compiled binary against swtpm (reference §2.4), with tpm2-tools
// and openssl computing the expected values independently, and every way of having no usable
// TPM: no device, a simulator that is down, no permission, no libtss2 — each one clear ERROR
// line and exit code 3, while commands that need no TPM keep working.

import { beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { locateLibrary } from "../../ffi/locate.ts";
import { tbotBin } from "../harness/binary.ts";
import { runExactEnv } from "../harness/extra.ts";
import { cleanupAfterFile, type RunResult, tempDir } from "../harness/proc.ts";
import { portPairFree, type SwtpmHandle, startSwtpm } from "../harness/swtpm.ts";
import { handles, tpm2 } from "../harness/tpm2-tools.ts";

cleanupAfterFile();

/** This process's environment without anything that would steer tbot's TPM code. */
function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !/^(TBOT_|TSS2_|TPM2TOOLS_)/.test(k)) env[k] = v;
  return { ...env, ...extra };
}

function identify(
  tcti: string | undefined,
  args: string[] = [],
  extra: Record<string, string> = {},
): RunResult {
  return runExactEnv(
    [tbotBin, "tpm", "identify", ...args],
    cleanEnv(tcti ? { TBOT_TPM_TCTI: tcti, ...extra } : extra),
  );
}

/** Exit 3 and one "ERROR: …" line, no stack trace and none of libtss2's own log lines. */
function expectNoTpm(r: RunResult): string {
  expect(r.stdout).toBe("");
  expect(r.code).toBe(3);
  const lines = r.stderr.trimEnd().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toStartWith("ERROR: ");
  return lines[0]!;
}

const sha256 = (b: Uint8Array) => new Bun.CryptoHasher("sha256").update(b).digest("hex");
const openssl = (args: string[], stdin: Uint8Array | string): Uint8Array => {
  const r = Bun.spawnSync(["openssl", ...args], {
    stdin: typeof stdin === "string" ? Buffer.from(stdin) : stdin,
  });
  if (r.exitCode !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.stderr}`);
  return new Uint8Array(r.stdout);
};

/** openssl's "serial=0A1B" in the reference's notation "0a:1b". */
function opensslSerial(certDer: Uint8Array): string {
  const out = new TextDecoder().decode(openssl(["x509", "-inform", "DER", "-noout", "-serial"], certDer));
  const hex = /serial=([0-9A-F]+)/.exec(out)![1]!.toLowerCase();
  return (hex.length % 2 ? `0${hex}` : hex).match(/../g)!.join(":");
}

describe("a provisioned TPM", () => {
  let sw: SwtpmHandle;
  let ekHash: string;
  let certDer: Uint8Array;
  beforeAll(async () => {
    sw = await startSwtpm();
    const pem = join(sw.dir, "ek.pem");
    tpm2(sw, ["tpm2_readpublic", "-c", "0x81010001", "-o", pem, "-f", "pem"]);
    ekHash = sha256(openssl(["pkey", "-pubin", "-outform", "DER"], readFileSync(pem, "utf8")));
    const nv = join(sw.dir, "ek-cert.der");
    tpm2(sw, ["tpm2_nvread", "0x1c00002", "-o", nv]);
    certDer = new Uint8Array(readFileSync(nv));
  });

  test("prints the reference's four lines: EKPub hash and EKCert serial as tpm2-tools and openssl see them", () => {
    const r = identify(sw.tcti);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        "TPM Information",
        `EKPub Hash: ${ekHash}`,
        "EKCert Detected: true",
        `EKCert Serial: ${opensslSerial(certDer)}`,
        "",
      ].join("\n"),
    );
    expect(handles(sw, "transient")).toEqual([]); // nothing left loaded in a TPM without a resource manager
  });

  test("--debug adds the EK public key and certificate as PEM that openssl reads", () => {
    for (const r of [identify(sw.tcti, ["--debug"]), identify(sw.tcti, [], { TBOT_DEBUG: "1" })]) {
      expect(r.code).toBe(0);
      const m =
        /^EKPub:\n(-----BEGIN PUBLIC KEY-----\n[\s\S]+?-----END PUBLIC KEY-----)\nEKCert:\n(-----BEGIN CERTIFICATE-----\n[\s\S]+?-----END CERTIFICATE-----)\n$/m.exec(
          r.stdout,
        );
      expect(m).not.toBeNull();
      expect(r.stdout.startsWith(`TPM Information\nEKPub Hash: ${ekHash}\nEKCert Detected: true\n`)).toBe(
        true,
      );
      expect(sha256(openssl(["pkey", "-pubin", "-outform", "DER"], m![1]!))).toBe(ekHash);
      expect(openssl(["x509", "-outform", "DER"], m![2]!)).toEqual(certDer);
      // And it chains to swtpm's local CA, through the intermediate.
      const leaf = join(sw.dir, "ek-from-tbot.pem");
      writeFileSync(leaf, `${m![2]}\n`);
      const v = Bun.spawnSync([
        "openssl",
        "verify",
        "-CAfile",
        sw.ca.rootPem,
        "-untrusted",
        sw.ca.intermediatePem,
        leaf,
      ]);
      expect(v.stdout.toString()).toContain(": OK");
    }
  });
});

test("a TPM without an EK certificate: EKCert Detected: false, no serial, the template-derived EK's hash", async () => {
  const sw = await startSwtpm({ ekCerts: false });
  const pem = join(sw.dir, "ek.pem");
  tpm2(sw, ["tpm2_createek", "-G", "rsa", "-c", join(sw.dir, "ek.ctx"), "-u", pem, "-f", "pem"]);
  tpm2(sw, ["tpm2_flushcontext", "-t"]);
  const hash = sha256(openssl(["pkey", "-pubin", "-outform", "DER"], readFileSync(pem, "utf8")));
  const r = identify(sw.tcti);
  expect(r.code).toBe(0);
  expect(r.stdout).toBe(`TPM Information\nEKPub Hash: ${hash}\nEKCert Detected: false\n`);
  const debug = identify(sw.tcti, ["-d"]);
  expect(debug.stdout).toContain("EKPub:\n-----BEGIN PUBLIC KEY-----");
  expect(debug.stdout).not.toContain("EKCert:");
  expect(handles(sw, "transient")).toEqual([]);
});

describe("no usable TPM: exit 3 and what to do", () => {
  test("no device at the configured path", () => {
    const line = expectNoTpm(identify("device:/nonexistent/tpmrm0"));
    expect(line).toContain("no TPM device at /nonexistent/tpmrm0");
    expect(line).toContain("driver is not loaded");
  });

  test("a simulator that is not running", async () => {
    const sw = await startSwtpm({ ekCerts: false });
    await sw.stop();
    const line = expectNoTpm(identify(sw.tcti));
    expect(line).toContain(`cannot reach the TPM simulator at 127.0.0.1:${sw.port}`);
  });

  test("permission denied on the device: the tss group", () => {
    // A root-only "device" in a directory others may enter; tbot runs as nobody.
    const dir = tempDir("tpm-perm-");
    chmodSync(dir, 0o755);
    const device = join(dir, "tpmrm0");
    writeFileSync(device, "");
    chmodSync(device, 0o600);
    const env = cleanEnv({ TBOT_TPM_TCTI: `device:${device}` });
    const r = runExactEnv(["runuser", "-u", "nobody", "--", tbotBin, "tpm", "identify"], env);
    const line = expectNoTpm(r);
    expect(line).toContain(`permission denied opening ${device}`);
    expect(line).toContain('"tss" group');
  });

  test("an unknown TCTI name", () => {
    expect(expectNoTpm(identify("bogus:whatever"))).toContain('cannot use TCTI "bogus"');
  });

  test("libtss2 not installed: names the package; version and help still work", () => {
    const empty = tempDir("no-tss2-");
    const line = expectNoTpm(identify("device:/dev/tpmrm0", [], { TSS2_LIBDIR: empty }));
    expect(line).toContain("libtss2-esys.so.0 is not installed");
    expect(line).toContain("Install package libtss2-esys-3.0.2-0");
    expect(line).toContain("TSS2_LIBDIR");
    // Only some of them: the first one missing is named.
    const partial = tempDir("some-tss2-");
    for (const lib of ["libtss2-esys.so.0", "libtss2-tctildr.so.0"])
      symlinkSync(locateLibrary(lib), join(partial, lib));
    expect(expectNoTpm(identify("device:/dev/tpmrm0", [], { TSS2_LIBDIR: partial }))).toContain(
      "Install package libtss2-mu0",
    );
    const version = runExactEnv([tbotBin, "version"], cleanEnv({ TSS2_LIBDIR: empty }));
    expect(version.code).toBe(0);
    expect(version.stdout).toStartWith("tbot v");
    const help = runExactEnv([tbotBin, "help"], cleanEnv({ TSS2_LIBDIR: empty }));
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("tpm identify");
  });
});

// Pitfall: an empty TCTI string makes tpm2-tss try a chain of defaults that ends with a
// simulator on localhost:2321. Without TBOT_TPM_TCTI tbot must use /dev/tpmrm0 only.
const standardPortFree = await portPairFree(2321);
test.skipIf(!standardPortFree)(
  "without TBOT_TPM_TCTI a simulator on localhost:2321 is never used",
  async () => {
    const sw = await startSwtpm({ port: 2321 });
    expect(identify(sw.tcti).code).toBe(0); // it is there and answering
    const r = identify(undefined);
    expect(r.stdout).not.toContain("EKPub Hash"); // (on this machine there is no /dev/tpmrm0)
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("/dev/tpmrm0");
  },
);

test("tbot tpm needs its subcommand", () => {
  const r = runExactEnv([tbotBin, "tpm"], cleanEnv());
  expect(r.code).toBe(2);
  expect(r.stderr).toContain('"tbot tpm" needs a subcommand: identify');
});
