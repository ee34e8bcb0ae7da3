// Join latency of each join method on loopback (issue Part 8, done-when 5), measured two ways:
//  - in-process: the protocol client (src/join/client.ts runJoin with the method's client half
//    from the registry) against a compiled tauth; a fresh key per join, generated outside the
//    timing. This is the join itself: the server's work plus the client's proof (for github,
//    the call to the Actions token endpoint) and the HTTPS round trips.
//  - one-shot: the compiled `tbot start --oneshot` process, memory storage, identity output to a
//    directory; the whole process (start, key, join, outputs).
// Each: median and p90 of N joins (default 20) after 2 warm-up joins. Then the JWKS cache in a
// 100-join run (in-process) against a fresh issuer per OIDC method: discovery and JWKS fetches
// the issuer served, and hits = joins − JWKS fetches.
//   TBOT_DIST=/path/to/dist bun bench/join-methods.ts [--n 20] [--cache-joins 100] [--only github,gitlab]
//
// The OIDC issuers, the GitHub Actions token endpoint, STS and the instance metadata are the
// test harnesses (test/harness/oidc-issuer.ts, sts.ts), each HTTPS with a CA of its own; tauth
// trusts them through SSL_CERT_FILE (one bundle file of their CAs). A method this build does not
// implement (not in src/join/registry.ts) is listed as skipped.

import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { spawn, spawnSync } from "bun";
import { freshKey } from "../src/agent/identity/bot-identity.ts";
import { type JoinMethodClient, runJoin } from "../src/join/client.ts";
import type { MethodStorage } from "../src/join/descriptor.ts";
import { implementedJoinMethod } from "../src/join/registry.ts";
import { ApiClient } from "../src/protocol/client.ts";
import type { PingResponse } from "../src/protocol/messages.ts";
import { type OidcIssuer, startOidcIssuer } from "../test/harness/oidc-issuer.ts";
import { type StsHarness, startSts } from "../test/harness/sts.ts";
import { bin, ensureBuilt, ms, startCluster, summary } from "./lib.ts";

const { values: opt } = parseArgs({
  options: {
    n: { type: "string", default: "20" },
    "cache-joins": { type: "string", default: "100" },
    only: { type: "string" },
  },
});
const N = Number(opt.n);
const CACHE_JOINS = Number(opt["cache-joins"]);
const only = opt.only ? new Set(opt.only.split(",")) : undefined;
const CLUSTER = "bench.test";

ensureBuilt();

// ---- platforms: started before tauth, whose SSL_CERT_FILE is the bundle of their CAs ----

const issuers: OidcIssuer[] = [];
const newIssuer = async (o: Parameters<typeof startOidcIssuer>[0]) => {
  const i = await startOidcIssuer(o);
  issuers.push(i);
  return i;
};
const githubIssuerPath = "/_services/token"; // GitHub Enterprise Server's issuer path
const github = await newIssuer({ issuerPath: githubIssuerPath });
const gitlab = await newIssuer({ jwksPath: "/oauth/discovery/keys" });
const k8sOidc = await newIssuer({ jwksPath: "/openid/v1/jwks" });
const k8sStatic = await newIssuer({ jwksPath: "/openid/v1/jwks" }); // only mints; its JWKS is pinned
// Fresh issuers for the cache run (a cold cache each).
const cacheIssuers = {
  github: await newIssuer({ issuerPath: githubIssuerPath }),
  gitlab: await newIssuer({ jwksPath: "/oauth/discovery/keys" }),
  "kubernetes-oidc": await newIssuer({ jwksPath: "/openid/v1/jwks" }),
};
let sts: StsHarness | undefined;
const IAM_IDENTITY = {
  account: "123456789012",
  arn: "arn:aws:sts::123456789012:assumed-role/bench-role/i-0123456789abcdef0",
  userId: "AROAEXAMPLEID:i-0123456789abcdef0",
};
const IAM_CREDS = { accessKeyId: "AKIABENCHEXAMPLE0001", secretAccessKey: "bench-secret-key-0001" };
if (implementedJoinMethod("iam"))
  sts = await startSts({ credentials: [{ ...IAM_CREDS, identity: IAM_IDENTITY }] });

const work = join(process.env.TMPDIR ?? "/tmp", `bench-join-methods-${process.pid}`);
mkdirSync(work, { recursive: true });
const caBundle = join(work, "ca-bundle.pem");
writeFileSync(caBundle, [...issuers.map((i) => i.ca.caPem), ...(sts ? [sts.ca.caPem] : [])].join("\n"));
// tauth (started below, inheriting this environment) and this process's own fetches (the
// github client half calling the Actions endpoint) trust the harnesses through this file.
process.env.SSL_CERT_FILE = caBundle;
for (const [k, v] of Object.entries(iamServerEnv())) process.env[k] = v;

/** tauth's environment for iam: the harness's STS host added to the allowed STS endpoints. */
function iamServerEnv(): Record<string, string> {
  return sts ? { TAUTH_STS_ENDPOINTS: new URL(sts.url).host } : {};
}

const cluster = await startCluster();
const ping = await new ApiClient(cluster.addr, { insecure: true }).get<PingResponse>("/v1/ping");
const api = new ApiClient(cluster.addr, { ca: ping.host_ca_certs });
if (ping.cluster_name !== CLUSTER) throw new Error(`cluster name ${ping.cluster_name}`);

function create(name: string, yaml: string): void {
  const f = join(work, `${name}.yaml`);
  writeFileSync(f, yaml);
  cluster.tctl(["create", "-f", f]);
}
create(
  "bot",
  "kind: bot\nversion: v1\nmetadata:\n  name: bench\nspec:\n  roles: [access]\n  traits:\n    - name: logins\n      values: [root]\n",
);
const tokenYaml = (name: string, method: string, block: string) =>
  `kind: token\nversion: v2\nmetadata:\n  name: ${name}\nspec:\n  roles: [Bot]\n  bot_name: bench\n  join_method: ${method}\n${block}`;
const hostOf = (i: OidcIssuer) => new URL(i.origin).host;

// ---- the methods ----

interface Method {
  label: string;
  method: string;
  /** Creates the token resource(s); returns the token name for join `i` (token: a fresh one each). */
  setup(): Promise<(i: number) => Promise<string>>;
  /** The client's environment for one join, prepared outside the timing (fresh ID tokens). */
  prepare(): Promise<Record<string, string>>;
  issuer?: OidcIssuer;
}

const memoryStorage = (): MethodStorage => {
  const files = new Map<string, string>();
  return {
    read: async (n) => files.get(n) ?? null,
    writeSet: async (_set, f) => {
      for (const [k, v] of Object.entries(f)) files.set(k, v);
    },
  };
};

let staticKeyB64 = "";
const k8sTokenFile = join(work, "k8s-token");
const gitlabToken = (i: OidcIssuer) => i.gitlab({ aud: CLUSTER });
const k8sToken = (i: OidcIssuer) => i.kubernetes({ namespace: "ci", serviceAccount: "tbot", aud: [CLUSTER] });

const githubBlock = (i: OidcIssuer) =>
  `  github:\n    enterprise_server_host: "${hostOf(i)}"\n    allow:\n      - repository: octo-org/octo-repo\n`;
const gitlabBlock = (i: OidcIssuer) =>
  `  gitlab:\n    domain: "${hostOf(i)}"\n    allow:\n      - project_path: my-group/my-project\n`;
const k8sOidcBlock = (i: OidcIssuer) =>
  `  kubernetes:\n    type: oidc\n    oidc:\n      issuer: "${i.issuer}"\n    allow:\n      - service_account: "ci:tbot"\n`;

const methods: Method[] = [
  {
    label: "token",
    method: "token",
    async setup() {
      return async () => {
        const r = await adminPost<{ token_name: string }>("bots/instances/add", { bot: "bench" });
        return r.token_name;
      };
    },
    prepare: async () => ({}),
  },
  {
    label: "bound_keypair (static key, insecure recovery)",
    method: "bound_keypair",
    async setup() {
      const r = spawnSync(
        [bin("tbot"), "keypair", "create", "--static", "--auth-server", cluster.addr].concat([
          "--ca-pin",
          cluster.pin,
          "--format",
          "json",
        ]),
        { stderr: "pipe" },
      );
      if (r.exitCode !== 0) throw new Error(`keypair create: ${r.stderr}`);
      const k = JSON.parse(r.stdout.toString());
      staticKeyB64 = k.private_key;
      create(
        "tok-bk",
        tokenYaml(
          "bench-bk",
          "bound_keypair",
          `  bound_keypair:\n    onboarding:\n      initial_public_key: "${k.public_key}"\n    recovery:\n      mode: insecure\n      limit: 0\n`,
        ),
      );
      return async () => "bench-bk";
    },
    prepare: async () => ({ TBOT_BOUND_KEYPAIR_STATIC_KEY: staticKeyB64 }),
  },
  {
    label: "github",
    method: "github",
    issuer: github,
    async setup() {
      create("tok-gh", tokenYaml("bench-github", "github", githubBlock(github)));
      return async () => "bench-github";
    },
    prepare: async () => ({ ...github.actionsEnv }),
  },
  {
    label: "gitlab",
    method: "gitlab",
    issuer: gitlab,
    async setup() {
      create("tok-gl", tokenYaml("bench-gitlab", "gitlab", gitlabBlock(gitlab)));
      return async () => "bench-gitlab";
    },
    prepare: async () => ({ TBOT_GITLAB_JWT: await gitlabToken(gitlab) }),
  },
  {
    label: "kubernetes (static_jwks)",
    method: "kubernetes",
    async setup() {
      const jwks = JSON.stringify({ keys: k8sStatic.keys.map((k) => k.publicJwk) });
      create(
        "tok-k8s-static",
        tokenYaml(
          "bench-k8s-static",
          "kubernetes",
          `  kubernetes:\n    type: static_jwks\n    static_jwks:\n      jwks: '${jwks}'\n    allow:\n      - service_account: "ci:tbot"\n`,
        ),
      );
      return async () => "bench-k8s-static";
    },
    async prepare() {
      writeFileSync(k8sTokenFile, await k8sToken(k8sStatic));
      return { KUBERNETES_TOKEN_PATH: k8sTokenFile };
    },
  },
  {
    label: "kubernetes (oidc)",
    method: "kubernetes",
    issuer: k8sOidc,
    async setup() {
      create("tok-k8s-oidc", tokenYaml("bench-k8s-oidc", "kubernetes", k8sOidcBlock(k8sOidc)));
      return async () => "bench-k8s-oidc";
    },
    async prepare() {
      writeFileSync(k8sTokenFile, await k8sToken(k8sOidc));
      return { KUBERNETES_TOKEN_PATH: k8sTokenFile };
    },
  },
  {
    label: "iam",
    method: "iam",
    async setup() {
      create(
        "tok-iam",
        tokenYaml(
          "bench-iam",
          "iam",
          `  allow:\n    - aws_account: "${IAM_IDENTITY.account}"\n      aws_arn: "arn:aws:sts::${IAM_IDENTITY.account}:assumed-role/bench-role/*"\n`,
        ),
      );
      return async () => "bench-iam";
    },
    prepare: async () => ({
      AWS_ACCESS_KEY_ID: IAM_CREDS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: IAM_CREDS.secretAccessKey,
      AWS_REGION: "us-east-1",
      AWS_ENDPOINT_URL_STS: sts!.url,
    }),
  },
];

async function adminPost<T>(op: string, body: unknown): Promise<T> {
  const { parseIdentityFile } = await import("../src/crypto/identity-file.ts");
  const id = parseIdentityFile(await Bun.file(cluster.identity).text());
  const admin = new ApiClient(cluster.addr, { ca: id.tlsCaPems, cert: id.tlsCertPem, key: id.privateKeyPem });
  return admin.post<T>(`/v1/admin/${op}`, body);
}

/** One in-process join: the method's client half as tbot builds it, env set for the call. */
async function joinInProcess(method: string, token: string, env: Record<string, string>): Promise<number> {
  const desc = implementedJoinMethod(method)!;
  const key = await freshKey();
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(env)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  try {
    const t0 = performance.now();
    const client: JoinMethodClient = await desc.client({
      settings: undefined,
      storage: memoryStorage(),
      debug: false,
      clusterName: CLUSTER,
    });
    await runJoin(
      api,
      { tokenName: token, publicKeys: key.publicKeys, expires: new Date(Date.now() + 3600_000) },
      client,
    );
    return performance.now() - t0;
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** One compiled one-shot: the whole tbot process (not spawnSync: the harnesses answer from this process). */
async function joinOneShot(
  method: string,
  token: string,
  env: Record<string, string>,
  i: number,
): Promise<number> {
  const out = join(work, `out-${method}-${i}`);
  const argv = [bin("tbot"), "start", `--join-method=${method}`, `--token=${token}`]
    .concat([`--auth-server=${cluster.addr}`, `--ca-pin=${cluster.pin}`])
    .concat(["--storage=memory://", `--destination-dir=${out}`, "--oneshot"]);
  const t0 = performance.now();
  const p = spawn(argv, { env: { ...process.env, ...env }, stdout: "ignore", stderr: "pipe" });
  const [stderr, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
  const t = performance.now() - t0;
  if (code !== 0) throw new Error(`${method} one-shot failed: ${stderr}`);
  return t;
}

const rows: { label: string; inproc?: string; oneshot?: string; note?: string }[] = [];
const cacheRows: string[] = [];
try {
  // Latency: round-robin over the methods (join i of every method, then join i + 1), so load
  // from other processes on this shared machine falls on every method alike.
  const active: {
    m: Method;
    tokenFor: (i: number) => Promise<string>;
    inproc: number[];
    oneshot: number[];
  }[] = [];
  for (const m of methods) {
    if (only && !only.has(m.method) && !only.has(m.label)) continue;
    if (!implementedJoinMethod(m.method))
      rows.push({ label: m.label, note: "not implemented in this build" });
    else active.push({ m, tokenFor: await m.setup(), inproc: [], oneshot: [] });
  }
  for (let i = 0; i < N + 2; i++)
    for (const r of active) {
      const a = await joinInProcess(r.m.method, await r.tokenFor(i), await r.m.prepare());
      const b = await joinOneShot(r.m.method, await r.tokenFor(i), await r.m.prepare(), i);
      if (i >= 2) {
        r.inproc.push(a);
        r.oneshot.push(b);
      }
    }
  for (const { m, inproc, oneshot } of active) {
    const a = summary(inproc);
    const b = summary(oneshot);
    const row = {
      label: m.label,
      inproc: `${ms(a.median)} (${ms(a.p90)})`,
      oneshot: `${ms(b.median)} (${ms(b.p90)})`,
    };
    rows.push(row);
    console.log(`${m.label}: in-process median (p90) ${row.inproc}; one-shot ${row.oneshot}`);
  }

  for (const { m } of active) {
    // JWKS cache: a fresh issuer (cold cache), CACHE_JOINS in-process joins.
    const key =
      m.issuer === github
        ? "github"
        : m.issuer === gitlab
          ? "gitlab"
          : m.issuer
            ? "kubernetes-oidc"
            : undefined;
    if (key && CACHE_JOINS > 0) {
      const fresh = cacheIssuers[key];
      const name = `bench-cache-${key}`;
      const block =
        key === "github" ? githubBlock(fresh) : key === "gitlab" ? gitlabBlock(fresh) : k8sOidcBlock(fresh);
      create(`tok-${name}`, tokenYaml(name, m.method, block));
      const env = async (): Promise<Record<string, string>> => {
        if (key === "github") return { ...fresh.actionsEnv };
        if (key === "gitlab") return { TBOT_GITLAB_JWT: await gitlabToken(fresh) };
        writeFileSync(k8sTokenFile, await k8sToken(fresh));
        return { KUBERNETES_TOKEN_PATH: k8sTokenFile };
      };
      const d0 = fresh.discoveryFetches;
      const j0 = fresh.jwksFetches;
      const times: number[] = [];
      for (let i = 0; i < CACHE_JOINS; i++) times.push(await joinInProcess(m.method, name, await env()));
      const disc = fresh.discoveryFetches - d0;
      const jwks = fresh.jwksFetches - j0;
      const warm = summary(times.slice(1));
      const line = `${m.label}: ${CACHE_JOINS} joins, ${disc} discovery + ${jwks} JWKS fetches, hit rate ${(((CACHE_JOINS - jwks) / CACHE_JOINS) * 100).toFixed(0)}% (${CACHE_JOINS - jwks}/${CACHE_JOINS}); first join (cold cache) ${ms(times[0]!)}, the others median ${ms(warm.median)}`;
      cacheRows.push(line);
      console.log(line);
    }
  }
} finally {
  cluster.stop();
  for (const i of issuers) await i.stop();
  await sts?.stop();
  rmSync(work, { recursive: true, force: true });
}

const load = (await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ");
console.log(`\n${new Date().toISOString()} UTC, load average ${load}, n=${N} (+2 warm-up), loopback`);
console.log("| method | in-process join, median (p90) | tbot one-shot, median (p90) |");
console.log("| --- | --- | --- |");
for (const r of rows) console.log(`| ${r.label} | ${r.inproc ?? r.note} | ${r.oneshot ?? "—"} |`);
for (const l of cacheRows) console.log(`- ${l}`);
