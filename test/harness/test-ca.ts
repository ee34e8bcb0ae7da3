// A throw-away CA per harness instance, made with the openssl CLI: a P-256 root and a server
// certificate for 127.0.0.1 and localhost. `caFile` is what a test passes as SSL_CERT_FILE
// (or curl --cacert, or fetch's tls.ca) to the process that talks to the harness.

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run, tempDir } from "./proc.ts";

export interface TestCa {
  dir: string;
  /** The CA certificate (PEM file). */
  caFile: string;
  caPem: string;
  /** Server certificate and key (PEM) for 127.0.0.1 / localhost / ::1. */
  certPem: string;
  keyPem: string;
}

function openssl(args: string[]): void {
  const r = run(["openssl", ...args]);
  if (r.code !== 0) throw new Error(`openssl ${args.join(" ")} failed (${r.code}):\n${r.stderr}`);
}

export function makeTestCa(name = "harness"): TestCa {
  const dir = tempDir(`test-ca-${name}-`);
  const p = (f: string) => join(dir, f);
  openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", p("ca.key")]);
  openssl([
    "req",
    "-x509",
    "-new",
    "-key",
    p("ca.key"),
    "-sha256",
    "-days",
    "2",
    "-subj",
    `/O=test harness/CN=${name} test CA`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
    "-out",
    p("ca.pem"),
  ]);
  openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", p("server.key.sec1")]);
  openssl(["pkcs8", "-topk8", "-nocrypt", "-in", p("server.key.sec1"), "-out", p("server.key")]);
  openssl([
    "req",
    "-new",
    "-key",
    p("server.key"),
    "-subj",
    `/CN=${name} on 127.0.0.1`,
    "-out",
    p("server.csr"),
  ]);
  writeFileSync(
    p("server.ext"),
    [
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature",
      "extendedKeyUsage=serverAuth",
      "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost",
      "",
    ].join("\n"),
  );
  openssl([
    "x509",
    "-req",
    "-in",
    p("server.csr"),
    "-CA",
    p("ca.pem"),
    "-CAkey",
    p("ca.key"),
    "-CAcreateserial",
    "-days",
    "2",
    "-sha256",
    "-extfile",
    p("server.ext"),
    "-out",
    p("server.pem"),
  ]);
  return {
    dir,
    caFile: p("ca.pem"),
    caPem: readFileSync(p("ca.pem"), "utf8"),
    certPem: readFileSync(p("server.pem"), "utf8"),
    keyPem: readFileSync(p("server.key"), "utf8"),
  };
}
