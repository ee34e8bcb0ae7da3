// Request fuzzer for tauth: valid requests of every route, mutated (type confusion, prototype
// keys, huge and deep values, unicode, truncated or non-JSON bodies, wrong content types,
// methods and paths), sent over HTTP/1.1 (node:https) and HTTP/2 (node:http2), without a
// client certificate, with a bot's and with the admin identity. Invariants: no status ≥ 500,
// an answer within the timeout, tauth alive (process and /v1/ping), its RSS bounded. Request
// i of a run is generated from (seed, i) alone, so one failing request replays by itself.

import { createPublicKey, generateKeyPairSync, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import http2 from "node:http2";
import https from "node:https";
import { join } from "node:path";
import { type Cluster, makeRuns, oneShotArgs, type Rng, rng, rssKiB, runCmd } from "./fault.ts";
import { mutateRequest, type Shape } from "./fuzz-mutate.ts";

type CredName = "none" | "bot" | "admin";
interface Cred {
  cert?: string;
  key?: string;
}

export interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  transport: "h1" | "h2";
  cred: CredName;
  label: string;
}

interface Answer {
  status: number | null;
  text: string;
  error?: string;
  ms: number;
}

const pemBlocks = (text: string) => text.match(/-----BEGIN [^-]+-----[\s\S]*?-----END [^-]+-----\n?/g) ?? [];

/** An EC P-256 key we hold the private half of, in the two forms the API takes. */
function fuzzKey() {
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const spki = publicKey.export({ type: "spki", format: "der" });
  const point = spki.subarray(-65);
  const sshString = (b: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    return Buffer.concat([len, b]);
  };
  const blob = Buffer.concat(
    [Buffer.from("ecdsa-sha2-nistp256"), Buffer.from("nistp256"), point].map((b) => sshString(b)),
  );
  return {
    privatePem: privateKey.export({ type: "pkcs8", format: "pem" }) as string,
    publicKeys: {
      tls_public_key: publicKey.export({ type: "spki", format: "pem" }) as string,
      ssh_public_key: `ecdsa-sha2-nistp256 ${blob.toString("base64")}`,
    },
  };
}

/** The cluster prepared for fuzzing: credentials, tokens of each join method, valid shapes. */
export class FuzzTarget {
  readonly creds: Record<CredName, Cred> = { none: {}, bot: {}, admin: {} };
  readonly key = fuzzKey();
  shapes: Shape[] = [];
  private h1Agents = new Map<CredName, https.Agent>();
  private h2Sessions = new Map<CredName, http2.ClientHttp2Session>();
  reprovisions = 0;
  private renewing: Promise<unknown> = Promise.resolve();
  private reprovisioning: Promise<void> | null = null;

  constructor(readonly c: Cluster) {}

  async setup(): Promise<void> {
    const c = this.c;
    const dir = join(c.dir, "fuzz-setup");
    require("node:fs").mkdirSync(dir, { recursive: true });
    const file = join(dir, "resources.yaml");
    require("node:fs").writeFileSync(
      file,
      [
        "kind: role\nversion: v7\nmetadata:\n  name: fz-host\nspec:\n  allow:\n    node_labels: {'*': '*'}\n    rules:\n      - resources: [host_cert]\n        verbs: [create]\n",
        "kind: bot\nversion: v1\nmetadata:\n  name: fz-victim\nspec:\n  roles: [access]\n",
        "kind: token\nversion: v2\nmetadata:\n  name: fz-bk\nspec:\n  roles: [Bot]\n  bot_name: fz-victim\n  join_method: bound_keypair\n  bound_keypair:\n    recovery: {mode: standard, limit: 1000000}\n",
        `kind: token\nversion: v2\nmetadata:\n  name: fz-tpm\nspec:\n  roles: [Bot]\n  bot_name: fz-victim\n  join_method: tpm\n  tpm:\n    allow:\n      - ek_public_hash: ${"ab".repeat(32)}\n`,
      ].join("---\n"),
    );
    c.tctlOk(["create", "-f", file]);
    const admin = readFileSync(c.identity, "utf8");
    const blocks = pemBlocks(admin);
    this.creds.admin = { key: blocks[0]!, cert: blocks[1]! };
    await this.provisionBot();
    this.shapes = this.validShapes();
  }

  /** A bot (roles access + fz-host) joined by tbot one-shot; its identity output is our credential. */
  async provisionBot(): Promise<void> {
    const r = makeRuns(this.c, 1, { prefix: "fz-bot", roles: ["access", "fz-host"] })[0]!;
    const res = await runCmd(oneShotArgs(this.c, r));
    if (res.code !== 0) throw new Error(`fuzz bot did not join: ${res.stderr}`);
    this.setCred("bot", {
      cert: readFileSync(join(r.dest, "tlscert"), "utf8"),
      key: readFileSync(join(r.dest, "key"), "utf8"),
    });
  }

  private setCred(name: CredName, cred: Cred) {
    this.creds[name] = cred;
    this.h1Agents.get(name)?.destroy();
    this.h1Agents.delete(name);
    this.h2Sessions.get(name)?.destroy();
    this.h2Sessions.delete(name);
  }

  private validShapes(): Shape[] {
    const pk = this.key.publicKeys;
    const expires = new Date(Date.now() + 3600_000).toISOString();
    const bot_params = { public_keys: pk, expires };
    const init = (join_method: string, token_name: string) => ({
      join_method,
      token_name,
      system_role: "Bot",
    });
    const b64 = Buffer.from("fuzz").toString("base64");
    const post = (path: string, body: unknown): Shape => ({ method: "POST", path, body });
    const admin = (op: string, body: unknown) => post(`/v1/admin/${op}`, body);
    return [
      { method: "GET", path: "/v1/ping" },
      { method: "GET", path: "/v1/authorities" },
      { method: "GET", path: "/v1/nodes/resolve", query: { host: "node1.fault.test" } },
      { method: "GET", path: "/scripts/install.sh" },
      { method: "GET", path: "/packages/index.json" },
      post("/v1/join", { client_init: init("token", "00112233445566778899aabbccddeeff"), bot_params }),
      post("/v1/join", {
        client_init: init("bound_keypair", "fz-bk"),
        bot_params,
        method_init: { initial_join_secret: "secret", previous_join_state: "" },
      }),
      post("/v1/join", {
        client_init: init("bound_keypair", "fz-bk"),
        bot_params,
        continuation: "eyJhbGciOiJIUzI1NiJ9.e30.c2ln",
        solution: { type: "bound_keypair_challenge_solution", solution: "eyJhbGciOiJFZERTQSJ9.e30.c2ln" },
      }),
      post("/v1/join", {
        client_init: init("tpm", "fz-tpm"),
        bot_params,
        method_init: {
          ek_key: pk.tls_public_key,
          ek_public: b64,
          attestation_params: {
            public: b64,
            create_data: b64,
            create_attestation: b64,
            create_signature: b64,
          },
        },
      }),
      post("/v1/join", {
        client_init: init("tpm", "fz-tpm"),
        bot_params,
        continuation: "eyJhbGciOiJIUzI1NiJ9.e30.c2ln",
        solution: { type: "tpm_solution", solution: b64 },
      }),
      post("/v1/certs/renew", { public_keys: pk, expires }),
      post("/v1/certs/user", { public_keys: pk, expires, role_requests: ["access"] }),
      post("/v1/certs/host", { ssh_public_key: pk.ssh_public_key, principals: ["node1"], expires }),
      post("/v1/bot-instances/heartbeat", {
        is_startup: true,
        hostname: "fuzz",
        version: "0.0.0",
        uptime_seconds: 1,
        one_shot: false,
        architecture: "x64",
        os: "linux",
      }),
      post("/v1/nodes/heartbeat", { name: "node1", addr: "127.0.0.1:22", labels: { env: "fuzz" } }),
      admin("status", {}),
      admin("get", { kind: "bot", name: "fz-victim" }),
      admin("get", { kind: "bot_instances" }),
      admin("create", {
        upsert: true,
        resources: [
          {
            kind: "role",
            version: "v7",
            metadata: { name: "fz-role" },
            spec: { allow: { logins: ["root"] } },
          },
          { kind: "bot", version: "v1", metadata: { name: "fz-made" }, spec: { roles: ["access"] } },
          {
            kind: "token",
            version: "v2",
            metadata: { name: "fz-made-token" },
            spec: { roles: ["Bot"], bot_name: "fz-made", join_method: "token" },
          },
        ],
      }),
      admin("delete", { kind: "role", name: "fz-role" }),
      admin("bots/add", { name: "fz-added", roles: ["access"], logins: ["root"], join_method: "token" }),
      admin("bots/rm", { name: "fz-added" }),
      admin("bots/instances/add", { bot: "fz-victim", ttl: "10m" }),
      admin("tokens/add", { type: "bot", bot_name: "fz-victim", ttl: "10m" }),
      admin("locks/create", { bot: "fz-victim", message: "fuzz" }),
      admin("bound-keypair/rotate", { token: "fz-bk" }),
      admin("authorities/export", { type: "tls-host" }),
      admin("nodes/ls", {}),
    ];
  }

  /** Request i of a run with this seed. */
  request(seed: number, i: number): FuzzRequest {
    const r: Rng = rng((seed + Math.imul(i, 0x9e3779b1)) >>> 0);
    const shape = r.pick(this.shapes);
    const cred = r.pick(["none", "bot", "admin"] as const);
    return { ...mutateRequest(r, shape), transport: r.chance(0.5) ? "h1" : "h2", cred };
  }

  async send(req: FuzzRequest, timeoutMs: number): Promise<Answer> {
    const t0 = performance.now();
    const done = (status: number | null, text: string, error?: string): Answer => ({
      status,
      text,
      ...(error ? { error } : {}),
      ms: performance.now() - t0,
    });
    // Paths that reach the renewal after normalisation ("/v1/./certs/renew", "…?a=1") count too.
    const isRenew = req.cred === "bot" && /renew/i.test(req.path);
    if (!isRenew) return this.sendOnce(req, timeoutMs, done);
    // One bot renewal at a time: a success moves the bot to the new certificate (ours to hold,
    // it certifies our key), so the next renewal does not present an outdated generation.
    const p = this.renewing.then(async () => {
      const a = await this.sendOnce(req, timeoutMs, done);
      if (a.status === 200) this.adoptRenewal(a.text);
      return a;
    });
    this.renewing = p.catch(() => {});
    return p;
  }

  private adoptRenewal(text: string) {
    try {
      const cert = JSON.parse(text).certificates.tls_cert as string;
      const certKey = new X509Certificate(cert).publicKey.export({ type: "spki", format: "der" });
      const ours = createPublicKey(this.key.privatePem).export({ type: "spki", format: "der" });
      if (certKey.equals(ours)) this.setCred("bot", { cert, key: this.key.privatePem });
    } catch {}
  }

  /** After a lock on our bot (e.g. a fuzzed renewal raced an older certificate), join a fresh bot. */
  async maybeReprovision(req: FuzzRequest, a: Answer): Promise<void> {
    if (req.cred !== "bot" || a.status !== 403 || !/locked/.test(a.text)) return;
    this.reprovisioning ??= (async () => {
      // The 403 may be about something else (a join with a locked bot's token): ask as the bot.
      const probe: FuzzRequest = {
        method: "GET",
        path: "/v1/authorities",
        headers: {},
        transport: "h1",
        cred: "bot",
        label: "probe",
      };
      const p = await this.sendOnce(probe, 5000, (status, text) => ({ status, text, ms: 0 }));
      if (p.status !== 403) return;
      this.reprovisions++;
      await this.provisionBot();
    })().finally(() => {
      this.reprovisioning = null;
    });
    await this.reprovisioning;
  }

  private sendOnce(
    req: FuzzRequest,
    timeoutMs: number,
    done: (s: number | null, t: string, e?: string) => Answer,
  ) {
    return new Promise<Answer>((resolve) => {
      let settled = false;
      const finish = (a: Answer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(a);
      };
      const timer = setTimeout(() => finish(done(null, "", "timeout")), timeoutMs);
      const cred = this.creds[req.cred];
      if (req.transport === "h1") {
        let agent = this.h1Agents.get(req.cred);
        if (!agent) {
          agent = new https.Agent({ keepAlive: true, maxSockets: 8, ...cred, rejectUnauthorized: false });
          this.h1Agents.set(req.cred, agent);
        }
        const r = https.request(
          {
            host: "127.0.0.1",
            port: this.c.port,
            method: req.method,
            path: req.path,
            headers: req.headers,
            agent,
            rejectUnauthorized: false,
            ...cred,
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (d: Buffer) => chunks.push(d));
            res.on("end", () => finish(done(res.statusCode ?? null, Buffer.concat(chunks).toString())));
            res.on("error", (e) => finish(done(res.statusCode ?? null, "", e.message)));
          },
        );
        r.on("error", (e) => finish(done(null, "", e.message)));
        r.end(req.body);
        return;
      }
      let s = this.h2Sessions.get(req.cred);
      if (!s || s.closed || s.destroyed) {
        s = http2.connect(`https://127.0.0.1:${this.c.port}`, { ...cred, rejectUnauthorized: false });
        const session = s;
        session.on("error", () => this.h2Sessions.delete(req.cred));
        session.on("close", () => {
          if (this.h2Sessions.get(req.cred) === session) this.h2Sessions.delete(req.cred);
        });
        this.h2Sessions.set(req.cred, session);
      }
      try {
        const st = s.request({ ":method": req.method, ":path": req.path, ...req.headers });
        let status: number | null = null;
        const chunks: Buffer[] = [];
        st.on("response", (h) => {
          status = Number(h[":status"]);
        });
        st.on("data", (d: Buffer) => chunks.push(d));
        st.on("end", () => finish(done(status, Buffer.concat(chunks).toString())));
        st.on("error", (e) => finish(done(status, "", e.message)));
        st.on("close", () =>
          finish(done(status, Buffer.concat(chunks).toString(), status ? undefined : "stream closed")),
        );
        st.end(req.body);
      } catch (e) {
        finish(done(null, "", (e as Error).message));
      }
    });
  }

  close(): void {
    for (const a of this.h1Agents.values()) a.destroy();
    for (const s of this.h2Sessions.values()) s.destroy();
  }
}

export interface FuzzReport {
  seed: number;
  requests: number;
  byStatus: Record<string, number>;
  serverErrors: string[];
  hangs: string[];
  crashes: string[];
  transportErrors: number;
  rss: { warmKiB: number; peakKiB: number; endKiB: number; boundKiB: number };
  reprovisions: number;
  seconds: number;
  /** The slowest requests (ms, label, route): where the time goes. */
  slowest: string[];
}

/** How a failing request is shown: enough to replay it by hand or by (seed, index). */
export function describe(req: FuzzRequest, i: number, seed: number, a: Answer): string {
  const body = req.body ? req.body.subarray(0, 300).toString("utf8") : "";
  return `seed ${seed} request ${i} [${req.label}] ${req.transport} ${req.cred} ${req.method} ${req.path.slice(0, 200)} headers ${JSON.stringify(req.headers)} body(${req.body?.length ?? 0}) ${JSON.stringify(body)} → ${a.status ?? a.error} ${a.text.slice(0, 300)}`;
}

/** RSS may grow to this much above the warmed-up RSS, and never past the absolute cap. */
export const RSS_GROWTH_KIB = 160 * 1024;
export const RSS_CAP_KIB = 512 * 1024;

export async function fuzzRequests(
  t: FuzzTarget,
  o: {
    seed: number;
    count: number;
    concurrency?: number;
    timeoutMs?: number;
    onProgress?: (n: number) => void;
  },
): Promise<FuzzReport> {
  const t0 = performance.now();
  const pid = t.c.proc.pid;
  const rep: FuzzReport = {
    seed: o.seed,
    requests: 0,
    byStatus: {},
    serverErrors: [],
    hangs: [],
    crashes: [],
    transportErrors: 0,
    rss: { warmKiB: 0, peakKiB: 0, endKiB: 0, boundKiB: 0 },
    reprovisions: 0,
    seconds: 0,
    slowest: [],
  };
  const slow: [number, string][] = [];
  const timeoutMs = o.timeoutMs ?? 10_000;
  let next = 0;
  const warmAt = Math.min(500, Math.floor(o.count / 10));
  const alive = async (why: string) => {
    if (!t.c.proc.running) {
      rep.crashes.push(
        `tauth exited (${t.c.proc.p.exitCode ?? t.c.proc.p.signalCode}) ${why}: ${t.c.proc.since(0).slice(-2000)}`,
      );
      return false;
    }
    const ping = await t.send(
      { method: "GET", path: "/v1/ping", headers: {}, transport: "h1", cred: "none", label: "ping" },
      5000,
    );
    if (ping.status !== 200) rep.crashes.push(`/v1/ping answered ${ping.status ?? ping.error} ${why}`);
    return ping.status === 200;
  };
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= o.count || rep.crashes.length) return;
      const req = t.request(o.seed, i);
      const a = await t.send(req, timeoutMs);
      rep.requests++;
      const key = a.status === null ? `error` : String(a.status);
      rep.byStatus[key] = (rep.byStatus[key] ?? 0) + 1;
      if (a.status !== null && a.status >= 500) rep.serverErrors.push(describe(req, i, o.seed, a));
      if (a.error === "timeout") rep.hangs.push(describe(req, i, o.seed, a));
      else if (a.status === null) rep.transportErrors++;
      await t.maybeReprovision(req, a);
      if (slow.length < 5 || a.ms > slow[slow.length - 1]![0]) {
        slow.push([
          a.ms,
          `${Math.round(a.ms)} ms #${i} [${req.label}] ${req.transport} ${req.cred} ${req.method} ${req.path.slice(0, 60)} body ${req.body?.length ?? 0} B → ${a.status ?? a.error}`,
        ]);
        slow.sort((x, y) => y[0] - x[0]).splice(5);
      }
      if (i === warmAt) rep.rss.warmKiB = rssKiB(pid);
      if (i % 250 === 0) {
        rep.rss.peakKiB = Math.max(rep.rss.peakKiB, rssKiB(pid));
        o.onProgress?.(i);
      }
      if (i % 1000 === 999) await alive(`after request ${i}`);
    }
  };
  await Promise.all(Array.from({ length: o.concurrency ?? 8 }, worker));
  await alive("at the end");
  rep.rss.endKiB = rssKiB(pid);
  rep.rss.peakKiB = Math.max(rep.rss.peakKiB, rep.rss.endKiB);
  rep.rss.boundKiB = Math.min(RSS_CAP_KIB, rep.rss.warmKiB + RSS_GROWTH_KIB);
  rep.reprovisions = t.reprovisions;
  rep.seconds = (performance.now() - t0) / 1000;
  rep.slowest = slow.map((x) => x[1]);
  return rep;
}
