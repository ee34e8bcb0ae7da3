// A small CA hierarchy made by the openssl command line, the oracle for EK chain checks: roots,
// intermediates and EK-like leaves with the extensions TPM vendors use.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const OPENSSL = "/usr/bin/openssl";

function openssl(...args: string[]): string {
  const run = Bun.spawnSync([OPENSSL, ...args]);
  if (run.exitCode !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${run.stderr.toString()}`);
  return run.stdout.toString();
}

const extensions = `
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[not_ca]
basicConstraints = critical, CA:FALSE
keyUsage = critical, keyCertSign
subjectKeyIdentifier = hash
[ca_without_cert_sign]
basicConstraints = critical, CA:TRUE
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
[ek]
basicConstraints = critical, CA:FALSE
keyUsage = critical, keyEncipherment
extendedKeyUsage = 2.23.133.8.1
subjectAltName = critical, dirName:tpm_name
authorityKeyIdentifier = keyid
1.3.6.1.4.1.99999.1 = critical, DER:05:00
[tpm_name]
# TCG tpmManufacturer, tpmModel, tpmVersion; openssl drops what precedes the first "."
m.2.23.133.2.1 = id:53544D20
m.2.23.133.2.2 = TEST
m.2.23.133.2.3 = id:00010002
`;

export type KeySpec = "ec-p256" | "ec-p384" | "rsa-2048";

export interface TestCa {
  dir: string;
  /** A key; returns its path. */
  key(name: string, spec: KeySpec): string;
  /** A self-signed CA certificate; returns the PEM path. */
  root(name: string, key: string, subject: string): string;
  /** A certificate for `key` signed by (issuerCert, issuerKey) with extension section `section`. */
  issue(opts: {
    name: string;
    key: string;
    subject: string;
    issuerCert: string;
    issuerKey: string;
    section: "ca" | "not_ca" | "ca_without_cert_sign" | "ek";
    days?: number;
    digest?: string;
    sigopts?: string[];
  }): string;
  pem(path: string): string;
  /** `openssl verify -partial_chain` with `listed` as the trusted store: the oracle's verdict. */
  opensslAccepts(leaf: string, listed: string[]): boolean;
  remove(): void;
}

export function makeTestCa(): TestCa {
  const dir = mkdtempSync(join(tmpdir(), "ek-ca-"));
  const path = (n: string) => join(dir, n);
  writeFileSync(path("ext.cnf"), extensions);
  return {
    dir,
    key(name, spec) {
      const out = path(`${name}.key`);
      if (spec === "rsa-2048")
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", out);
      else
        openssl(
          "genpkey",
          "-algorithm",
          "EC",
          "-pkeyopt",
          `ec_paramgen_curve:${spec === "ec-p256" ? "P-256" : "P-384"}`,
          "-out",
          out,
        );
      return out;
    },
    root(name, key, subject) {
      const out = path(`${name}.pem`);
      openssl(
        "req",
        "-x509",
        "-new",
        "-key",
        key,
        "-subj",
        subject,
        "-days",
        "3650",
        "-sha384",
        "-config",
        path("ext.cnf"),
        "-extensions",
        "ca",
        "-out",
        out,
      );
      return out;
    },
    issue(o) {
      const csr = path(`${o.name}.csr`);
      const out = path(`${o.name}.pem`);
      openssl("req", "-new", "-key", o.key, "-subj", o.subject, "-config", path("ext.cnf"), "-out", csr);
      openssl(
        "x509",
        "-req",
        "-in",
        csr,
        "-CA",
        o.issuerCert,
        "-CAkey",
        o.issuerKey,
        "-CAcreateserial",
        "-days",
        String(o.days ?? 3650),
        `-${o.digest ?? "sha256"}`,
        ...(o.sigopts ?? []).flatMap((s) => ["-sigopt", s]),
        "-extfile",
        path("ext.cnf"),
        "-extensions",
        o.section,
        "-out",
        out,
      );
      return out;
    },
    pem: (p) => readFileSync(p, "utf8"),
    opensslAccepts(leaf, listed) {
      const bundle = path("listed.pem");
      writeFileSync(bundle, listed.map((p) => readFileSync(p, "utf8")).join("\n"));
      const run = Bun.spawnSync([
        OPENSSL,
        "verify",
        "-partial_chain",
        "-ignore_critical",
        "-CAfile",
        bundle,
        leaf,
      ]);
      return run.exitCode === 0;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
