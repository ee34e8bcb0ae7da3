// A Workload API for tests and the bench: the real server module (src/agent/workload-api) fed by
// a test identity source: a throwaway SPIFFE CA (EC P-256, @peculiar/x509) and JWT key (jose),
// rules "attributes → SPIFFE path template", rotation on demand.
// As a program: `bun test/harness/workload-api.ts --socket /path --rule 'workload.unix.uid=1001:/svc/{{workload.unix.uid}}' … [--static DIR]`
// prints `READY <path>` and then takes commands on stdin: `rotate` (prints `ROTATED <epoch ms>`),
// `renew` (new SVIDs issued first, then streams told; prints `RENEWED <epoch ms at the signal>`),
// `streams` (prints `STREAMS <n>`), `rss` (prints `RSS <kB>`), `quit`.

import { webcrypto } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type * as X509 from "@peculiar/x509";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import {
  attribute,
  type JwtSvid,
  startWorkloadApi,
  type TrustBundles,
  type WorkloadApiServer,
  type WorkloadAttributes,
  type WorkloadIdentitySource,
  type X509Svid,
} from "../../src/agent/workload-api/index.ts";
import { pemDecode } from "../../src/crypto/pem.ts";

// @peculiar/x509 (and the reflect-metadata it needs) is loaded only by TestSource, so the
// `--static` mode's RSS is the server's without an X.509 library.
let x509: typeof X509;
async function loadX509(): Promise<void> {
  if (x509) return;
  await import("reflect-metadata");
  x509 = await import("@peculiar/x509");
  x509.cryptoProvider.set(webcrypto as unknown as Crypto);
}
const EC = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIG = { name: "ECDSA", hash: "SHA-256" } as const;

/** Wall-clock milliseconds with sub-millisecond precision (comparable across processes). */
export const wallMs = (): number => performance.timeOrigin + performance.now();

export interface Rule {
  /** attribute name → required value (compared as strings); all must match. */
  when: Record<string, string>;
  /** SPIFFE path, `{{workload.unix.uid}}`-style templates allowed. */
  path: string;
  hint?: string;
}

/** `workload.unix.uid=1001,workload.unix.gid=5:/svc/{{workload.unix.uid}}` → Rule */
export function parseRule(text: string): Rule {
  const i = text.indexOf(":/");
  if (i < 0) throw new Error(`bad rule ${text}`);
  const when: Record<string, string> = {};
  for (const kv of text.slice(0, i).split(",").filter(Boolean)) {
    const [k, v] = kv.split("=");
    when[k as string] = v as string;
  }
  return { when, path: text.slice(i + 1) };
}

async function render(template: string, attrs: WorkloadAttributes): Promise<string> {
  let out = "";
  let last = 0;
  for (const m of template.matchAll(/\{\{\s*([a-z_.]+)\s*\}\}/g)) {
    out += template.slice(last, m.index) + String(await attribute(attrs, m[1] as string));
    last = (m.index as number) + m[0].length;
  }
  return out + template.slice(last);
}

async function matchRules(rules: Rule[], td: string, attrs: WorkloadAttributes): Promise<string[]> {
  const ids: string[] = [];
  for (const r of rules) {
    let ok = true;
    for (const [k, v] of Object.entries(r.when)) {
      if (String(await attribute(attrs, k)) !== v) ok = false;
    }
    if (ok) ids.push(`spiffe://${td}${await render(r.path, attrs)}`);
  }
  return ids;
}

export class TestSource implements WorkloadIdentitySource {
  readonly trustDomain: string;
  private rules: Rule[];
  private listeners = new Set<() => void>();
  private ca!: { cert: X509.X509Certificate; keys: CryptoKeyPair };
  private jwtKey!: { priv: CryptoKey; kid: string; jwk: object };
  private cache = new Map<string, Promise<X509Svid>>();
  generation = 0;
  issued = 0;

  private constructor(trustDomain: string, rules: Rule[]) {
    this.trustDomain = trustDomain;
    this.rules = rules;
  }

  static async create(trustDomain: string, rules: Rule[]): Promise<TestSource> {
    await loadX509();
    const s = new TestSource(trustDomain, rules);
    const keys = (await webcrypto.subtle.generateKey(EC, true, ["sign", "verify"])) as CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      name: `CN=test SPIFFE CA, O=${trustDomain}`,
      keys,
      signingAlgorithm: SIG,
      serialNumber: "01",
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 24 * 3600_000),
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        new x509.SubjectAlternativeNameExtension([{ type: "url", value: `spiffe://${trustDomain}` }]),
      ],
    });
    s.ca = { cert, keys };
    const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
    const kid = `k${Date.now().toString(36)}`;
    s.jwtKey = {
      priv: privateKey as CryptoKey,
      kid,
      jwk: { ...(await exportJWK(publicKey)), kid, use: "jwt-svid", alg: "ES256" },
    };
    return s;
  }

  identities(attrs: WorkloadAttributes): Promise<string[]> {
    return matchRules(this.rules, this.trustDomain, attrs);
  }

  private async issue(spiffeId: string): Promise<X509Svid> {
    const keys = (await webcrypto.subtle.generateKey(EC, true, ["sign", "verify"])) as CryptoKeyPair;
    this.issued++;
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: (Date.now() * 1000 + this.issued).toString(16),
      issuer: this.ca.cert.subject,
      subject: "",
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 3600_000),
      signingAlgorithm: SIG,
      publicKey: keys.publicKey,
      signingKey: this.ca.keys.privateKey,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
          true,
        ),
        new x509.ExtendedKeyUsageExtension(["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]),
        new x509.SubjectAlternativeNameExtension([{ type: "url", value: spiffeId }], true),
        await x509.AuthorityKeyIdentifierExtension.create(this.ca.cert),
      ],
    });
    const key = new Uint8Array(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey));
    return { spiffeId, chain: [new Uint8Array(cert.rawData)], key };
  }

  async x509Svids(attrs: WorkloadAttributes): Promise<X509Svid[]> {
    const ids = await this.identities(attrs);
    return Promise.all(
      ids.map((id) => {
        const key = `${this.generation}|${id}`;
        let p = this.cache.get(key);
        if (!p) {
          p = this.issue(id);
          this.cache.set(key, p);
        }
        return p;
      }),
    );
  }

  async jwtSvids(attrs: WorkloadAttributes, audience: string[], spiffeId?: string): Promise<JwtSvid[]> {
    const ids = (await this.identities(attrs)).filter((id) => !spiffeId || id === spiffeId);
    return Promise.all(
      ids.map(async (id) => ({
        spiffeId: id,
        token: await new SignJWT({})
          .setProtectedHeader({ alg: "ES256", kid: this.jwtKey.kid, typ: "JWT" })
          .setSubject(id)
          .setAudience(audience)
          .setIssuedAt()
          .setExpirationTime("5m")
          .sign(this.jwtKey.priv),
      })),
    );
  }

  bundles(): TrustBundles {
    return {
      x509: new Map([[this.trustDomain, [new Uint8Array(this.ca.cert.rawData)]]]),
      jwt: new Map([[this.trustDomain, { keys: [this.jwtKey.jwk] }]]),
    };
  }

  onRotate(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** New SVIDs for everyone (as a renewal does); open streams are told. */
  rotate(): void {
    this.generation++;
    this.cache.clear();
    for (const l of this.listeners) l();
  }

  /**
   * A renewal: new SVIDs issued for every identity served so far, then open streams are told.
   * Returns the wall-clock time (ms, sub-ms precision) of the notification.
   */
  async renew(): Promise<number> {
    const ids = [...new Set([...this.cache.keys()].map((k) => k.slice(k.indexOf("|") + 1)))];
    const gen = this.generation + 1;
    const fresh = new Map(ids.map((id) => [`${gen}|${id}`, this.issue(id)]));
    await Promise.all(fresh.values());
    this.generation = gen;
    this.cache = fresh;
    const t = wallMs();
    for (const l of this.listeners) l();
    return t;
  }

  caPem(): string {
    return this.ca.cert.toString("pem");
  }
}

/**
 * Pre-made SVIDs from files (`ca.pem`, `svid-1.pem`/`svid-1.key`, `svid-2.pem`/`svid-2.key`,
 * PKCS#8 PEM keys), every identity served the current pair; `renew()` switches pairs. For the
 * RSS figure without an X.509 library in the process (bench/workload-api.ts makes the files with
 * openssl). JWT-SVIDs as TestSource.
 */
export class StaticSource implements WorkloadIdentitySource {
  private listeners = new Set<() => void>();
  private pairs: { chain: Uint8Array[]; key: Uint8Array }[];
  private ca: Uint8Array;
  private current = 0;
  private jwtKey!: { priv: CryptoKey; kid: string; jwk: object };

  private constructor(
    private trustDomain: string,
    private rules: Rule[],
    dir: string,
  ) {
    const read = (f: string) => readFileSync(join(dir, f), "utf8");
    this.ca = pemDecode(read("ca.pem"), "CERTIFICATE");
    this.pairs = [1, 2].map((n) => ({
      chain: [pemDecode(read(`svid-${n}.pem`), "CERTIFICATE")],
      key: pemDecode(read(`svid-${n}.key`), "PRIVATE KEY"),
    }));
  }

  static async create(trustDomain: string, rules: Rule[], dir: string): Promise<StaticSource> {
    const s = new StaticSource(trustDomain, rules, dir);
    const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
    s.jwtKey = {
      priv: privateKey as CryptoKey,
      kid: "static",
      jwk: { ...(await exportJWK(publicKey)), kid: "static", use: "jwt-svid", alg: "ES256" },
    };
    return s;
  }

  identities(attrs: WorkloadAttributes): Promise<string[]> {
    return matchRules(this.rules, this.trustDomain, attrs);
  }

  async x509Svids(attrs: WorkloadAttributes): Promise<X509Svid[]> {
    const p = this.pairs[this.current] as { chain: Uint8Array[]; key: Uint8Array };
    return (await this.identities(attrs)).map((spiffeId) => ({ spiffeId, ...p }));
  }

  async jwtSvids(attrs: WorkloadAttributes, audience: string[], spiffeId?: string): Promise<JwtSvid[]> {
    const ids = (await this.identities(attrs)).filter((id) => !spiffeId || id === spiffeId);
    return Promise.all(
      ids.map(async (id) => ({
        spiffeId: id,
        token: await new SignJWT({})
          .setProtectedHeader({ alg: "ES256", kid: this.jwtKey.kid, typ: "JWT" })
          .setSubject(id)
          .setAudience(audience)
          .setIssuedAt()
          .setExpirationTime("5m")
          .sign(this.jwtKey.priv),
      })),
    );
  }

  bundles(): TrustBundles {
    return {
      x509: new Map([[this.trustDomain, [this.ca]]]),
      jwt: new Map([[this.trustDomain, { keys: [this.jwtKey.jwk] }]]),
    };
  }

  onRotate(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  rotate(): void {
    this.current = 1 - this.current;
    for (const l of this.listeners) l();
  }

  async renew(): Promise<number> {
    this.current = 1 - this.current;
    const t = wallMs();
    for (const l of this.listeners) l();
    return t;
  }
}

/** A line reader over a process's stdout. */
export class Lines {
  private buf = "";
  lines: string[] = [];
  private waiters: (() => void)[] = [];
  constructor(stream: ReadableStream<Uint8Array>) {
    (async () => {
      const dec = new TextDecoder();
      for await (const chunk of stream) {
        this.buf += dec.decode(chunk);
        let nl = this.buf.indexOf("\n");
        while (nl >= 0) {
          this.lines.push(this.buf.slice(0, nl));
          this.buf = this.buf.slice(nl + 1);
          nl = this.buf.indexOf("\n");
        }
        for (const w of this.waiters.splice(0)) w();
      }
      for (const w of this.waiters.splice(0)) w();
    })();
  }
  async waitFor(pred: (l: string) => boolean, ms = 20_000): Promise<string> {
    const end = Date.now() + ms;
    for (;;) {
      const hit = this.lines.find(pred);
      if (hit !== undefined) return hit;
      if (Date.now() > end) throw new Error(`timed out; lines so far:\n${this.lines.join("\n")}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 200);
      });
    }
  }
}

export async function startTestWorkloadApi(
  socket: string,
  rules: Rule[],
  trustDomain = "example.org",
  staticDir?: string,
): Promise<{ server: WorkloadApiServer; source: TestSource | StaticSource }> {
  const source = staticDir
    ? await StaticSource.create(trustDomain, rules, staticDir)
    : await TestSource.create(trustDomain, rules);
  const server = await startWorkloadApi({ listen: `unix://${socket}`, source });
  return { server, source };
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  let socket = "";
  let staticDir: string | undefined;
  const rules: Rule[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--socket") socket = args[++i] as string;
    else if (args[i] === "--rule") rules.push(parseRule(args[++i] as string));
    else if (args[i] === "--static") staticDir = args[++i] as string;
  }
  const { server, source } = await startTestWorkloadApi(socket, rules, "example.org", staticDir);
  process.stdout.write(`READY ${server.path}\n`);
  let buf = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", async (chunk: string) => {
    buf += chunk;
    let nl = buf.indexOf("\n");
    while (nl >= 0) {
      const cmd = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      nl = buf.indexOf("\n");
      if (cmd === "rotate") {
        const t = Date.now();
        source.rotate();
        process.stdout.write(`ROTATED ${t}\n`);
      } else if (cmd === "renew") {
        process.stdout.write(`RENEWED ${(await source.renew()).toFixed(3)}\n`);
      } else if (cmd === "streams") process.stdout.write(`STREAMS ${server.openStreams()}\n`);
      else if (cmd === "rss") {
        const kb = /VmRSS:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
        process.stdout.write(`RSS ${kb}\n`);
      } else if (cmd === "quit") {
        await server.close();
        process.stdout.write("CLOSED\n");
        process.exit(0);
      }
    }
  });
  process.stdin.on("end", async () => {
    await server.close();
    process.exit(0);
  });
}
