// Fault-injection plumbing shared by the short fault tests (test/e2e/fault-*.test.ts) and the
// long form (bench/fault.ts): the database backend (chosen here, in one place), a tauth that
// can be killed with SIGKILL and restarted on the same data directory and port, tbot
// processes killed at chosen moments, a seeded PRNG, and bots with tokens made in batches.
// Nothing here imports bun:test, so the bench can use it as is.

import { Database } from "bun:sqlite";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Subprocess, spawn, spawnSync } from "bun";

const root = join(import.meta.dir, "..", "..");
const distDir = process.env.TBOT_DIST || join(root, "dist");
export const bin = (name: "tbot" | "tctl" | "tauth") => join(distDir, name);

/** Builds the binary (scripts/build.ts honours TBOT_DIST) unless it is there already. */
export function checkBuilt(): void {
  if (existsSync(bin("tbot")) && existsSync(bin("tctl")) && existsSync(bin("tauth"))) return;
  const r = spawnSync([process.execPath, join(root, "scripts/build.ts")], {
    stdout: "inherit",
    stderr: "inherit",
  });
  if (r.exitCode !== 0) throw new Error("build failed");
}

// ---- The backend: the only place that knows which database tauth runs on. ----

export interface FaultBackend {
  name: string;
  /** Extra `tauth start` arguments for a data directory. */
  tauthArgs(dataDir: string): string[];
  /** Integrity check of the stopped server's database: "ok" or what is wrong. */
  integrity(dataDir: string): string;
}

const sqlite: FaultBackend = {
  name: "sqlite",
  tauthArgs: () => [],
  integrity(dataDir) {
    const db = join(dataDir, "tauth.db");
    if (!existsSync(db)) return `no database file at ${db}`;
    // On a copy (database + WAL): checking never changes the evidence.
    const copy = mkdtempSync(join(tmpdir(), "fault-db-"));
    try {
      copyFileSync(db, join(copy, "tauth.db"));
      if (existsSync(`${db}-wal`)) copyFileSync(`${db}-wal`, join(copy, "tauth.db-wal"));
      const h = new Database(join(copy, "tauth.db"));
      try {
        const rows = h.query("PRAGMA integrity_check").all() as Record<string, string>[];
        const text = rows.map((r) => Object.values(r)[0]).join("; ");
        return text === "ok" ? "ok" : `integrity_check: ${text}`;
      } finally {
        h.close();
      }
    } catch (e) {
      return `cannot open the database: ${(e as Error).message}`;
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  },
};

const backends: Record<string, FaultBackend> = { sqlite };
/** TAUTH_BACKEND picks the backend (default sqlite); PostgreSQL adds one entry above. */
export const backend: FaultBackend = (() => {
  const name = process.env.TAUTH_BACKEND || "sqlite";
  const b = backends[name];
  if (!b) throw new Error(`TAUTH_BACKEND=${name}: the fault suite knows ${Object.keys(backends).join(", ")}`);
  return b;
})();

// ---- Seeded PRNG (mulberry32): every run prints its seed, and the seed replays it. ----

export interface Rng {
  seed: number;
  next(): number;
  int(lo: number, hi: number): number;
  pick<T>(xs: readonly T[]): T;
  chance(p: number): boolean;
}

export function rng(seed = Number(process.env.FAULT_SEED || (Date.now() >>> 0) % 1_000_000_007)): Rng {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    seed,
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (xs) => xs[Math.floor(next() * xs.length)]!,
    chance: (p) => next() < p,
  };
}

// ---- Processes: tracked so that a test file or the bench stops all it started. ----

const live = new Set<Subprocess>();
const dirs: string[] = [];

export function workDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

/** SIGKILL every process still running and remove the work directories. */
export async function cleanupAll(keepDirs = false): Promise<void> {
  for (const p of live) {
    try {
      p.kill("SIGKILL");
    } catch {}
  }
  await Promise.all([...live].map((p) => p.exited.catch(() => {})));
  live.clear();
  if (!keepDirs) for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

const MAX_LOG = 256 * 1024;

/** A child process with its combined output (the last 256 KiB) and offsets to wait from. */
export class Proc {
  readonly p: Subprocess<"ignore", "pipe", "pipe">;
  private out = "";
  private dropped = 0;
  private wake: (() => void)[] = [];
  constructor(cmd: string[], env?: Record<string, string>) {
    this.p = spawn(cmd, { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
    live.add(this.p);
    this.p.exited.then(() => {
      live.delete(this.p);
      this.notify();
    });
    this.pump(this.p.stdout);
    this.pump(this.p.stderr);
  }
  private notify() {
    for (const w of this.wake.splice(0)) w();
  }
  private async pump(s: ReadableStream<Uint8Array>) {
    const dec = new TextDecoder();
    for await (const c of s) {
      this.out += dec.decode(c);
      if (this.out.length > MAX_LOG) {
        this.dropped += this.out.length - MAX_LOG / 2;
        this.out = this.out.slice(-MAX_LOG / 2);
      }
      this.notify();
    }
  }
  get pid() {
    return this.p.pid;
  }
  get running() {
    return this.p.exitCode === null && this.p.signalCode === null;
  }
  /** Absolute offset of the end of the output so far. */
  mark(): number {
    return this.dropped + this.out.length;
  }
  since(mark: number): string {
    return this.out.slice(Math.max(0, mark - this.dropped));
  }
  /** Waits until the output after `mark` matches; false on timeout or exit. */
  async waitFor(re: RegExp, mark = 0, timeoutMs = 15_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (re.test(this.since(mark))) return true;
      if (!this.running || Date.now() > deadline) return false;
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(200, Math.max(1, deadline - Date.now())));
        this.wake.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }
  async kill9(): Promise<void> {
    try {
      this.p.kill("SIGKILL");
    } catch {}
    await this.p.exited;
  }
  signal(sig: NodeJS.Signals) {
    try {
      this.p.kill(sig);
    } catch {}
  }
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Set when the process was killed (by us or by a timeout). */
  signal: string | null;
  ms: number;
}

/** Runs a command; if `killAfterMs` is set, sends SIGKILL at that moment (it may have exited). */
export async function runCmd(
  cmd: string[],
  o: { killAfterMs?: number; killWhen?: () => boolean; timeoutMs?: number } = {},
): Promise<RunResult> {
  const t0 = performance.now();
  const p = spawn(cmd, { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  live.add(p);
  const timers: Timer[] = [];
  if (o.killAfterMs !== undefined) timers.push(setTimeout(() => p.kill("SIGKILL"), o.killAfterMs));
  const poll = o.killWhen && setInterval(() => o.killWhen!() && p.kill("SIGKILL"), 1);
  timers.push(setTimeout(() => p.kill("SIGKILL"), o.timeoutMs ?? 30_000));
  const [stdout, stderr, code] = await Promise.all([
    new Response(p.stdout).text(),
    new Response(p.stderr).text(),
    p.exited,
  ]);
  for (const t of timers) clearTimeout(t);
  if (poll) clearInterval(poll);
  live.delete(p);
  return {
    code,
    stdout,
    stderr,
    signal: p.signalCode === null ? null : String(p.signalCode),
    ms: performance.now() - t0,
  };
}

export function runSync(cmd: string[], stdin?: string): RunResult {
  const t0 = performance.now();
  const r = spawnSync(cmd, {
    stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin),
    stdout: "pipe",
    stderr: "pipe",
    timeout: 30_000,
  });
  return {
    code: r.exitCode ?? -1,
    stdout: r.stdout.toString(),
    stderr: r.stderr.toString(),
    signal: r.signalCode ? String(r.signalCode) : null,
    ms: performance.now() - t0,
  };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => resolve(typeof a === "object" && a ? a.port : 0));
    });
  });
}

export function rssKiB(pid: number): number {
  try {
    return Number(
      /VmRSS:\s+(\d+)/.exec(require("node:fs").readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0,
    );
  } catch {
    return 0;
  }
}

// ---- tauth: started, killed with SIGKILL, restarted on the same data directory and port. ----

/**
 * The server's bounds for these runs (TAUTH_LIMITS syntax): every join here comes from
 * 127.0.0.1, so the per-address join rate limit is off, or a rerun after a kill would be told
 * 429 and counted as a burnt token. FAULT_TAUTH_LIMITS overrides it.
 */
export const faultLimits = process.env.FAULT_TAUTH_LIMITS ?? "join_rate=off";

export class Cluster {
  proc!: Proc;
  pin = "";
  starts = 0;
  private constructor(
    readonly dir: string,
    readonly dataDir: string,
    readonly port: number,
  ) {}

  get addr() {
    return `127.0.0.1:${this.port}`;
  }
  get identity() {
    return join(this.dataDir, "admin-identity");
  }
  get auditPath() {
    return join(this.dataDir, "audit.log");
  }

  static async start(name = "fault.test"): Promise<Cluster> {
    const dir = workDir("fault-");
    const c = new Cluster(dir, join(dir, "auth"), await freePort());
    await c.launch(name);
    const m = /CA pin\s+(sha256:[0-9a-f]{64})/.exec(c.tctlOk(["status"]));
    if (!m) throw new Error("tctl status printed no CA pin");
    c.pin = m[1]!;
    return c;
  }

  private clusterName = "";
  private async launch(name = this.clusterName): Promise<void> {
    this.clusterName = name;
    const cmd = [
      ...[bin("tauth"), "start", "--data-dir", this.dataDir, "--listen", this.addr, "--cluster-name", name],
      ...backend.tauthArgs(this.dataDir),
    ];
    // A port just released by a killed server is normally free at once; retry a little if not.
    for (let attempt = 0; ; attempt++) {
      this.proc = new Proc(cmd, { TAUTH_LIMITS: faultLimits });
      this.starts++;
      if (await this.proc.waitFor(/Auth service is listening/, 0, 20_000)) return;
      await this.proc.kill9();
      if (attempt >= 5) throw new Error(`tauth did not start:\n${this.proc.since(0)}`);
      await Bun.sleep(200);
    }
  }

  async kill9(): Promise<void> {
    await this.proc.kill9();
  }

  async restart(): Promise<void> {
    if (this.proc.running) await this.proc.kill9();
    await this.launch();
  }

  async stop(): Promise<void> {
    this.proc.signal("SIGTERM");
    await this.proc.p.exited;
  }

  tctl(args: string[], stdin?: string): RunResult {
    return runSync([bin("tctl"), "--auth-server", this.addr, "--identity", this.identity, ...args], stdin);
  }

  tctlOk(args: string[], stdin?: string): string {
    const r = this.tctl(args, stdin);
    if (r.code !== 0) throw new Error(`tctl ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  }

  tctlJson<T>(args: string[]): T {
    return JSON.parse(this.tctlOk([...args, "--format=json"])) as T;
  }
}

// ---- Bots, tokens and tbot command lines. ----

export interface BotRun {
  bot: string;
  token: string;
  data: string;
  dest: string;
}

let seq = 0;
const hex = (n: number) => Buffer.from(crypto.getRandomValues(new Uint8Array(n))).toString("hex");

/** `n` bots (one tctl call each) or `n` tokens of one bot, all created with one `tctl create -f`. */
export function makeRuns(
  c: Cluster,
  n: number,
  o: { prefix?: string; oneBot?: boolean; roles?: string[] } = {},
): BotRun[] {
  const roles = (o.roles ?? ["access"]).join(", ");
  const prefix = o.prefix ?? "fb";
  const bots: string[] = [];
  const shared = `${prefix}-${seq++}`;
  if (o.oneBot) c.tctlOk(["bots", "add", shared, `--roles=${roles}`, "--logins=root", "--format=json"]);
  const runs: BotRun[] = [];
  const docs: string[] = [];
  for (let i = 0; i < n; i++) {
    const bot = o.oneBot ? shared : `${prefix}-${seq++}`;
    if (!o.oneBot) bots.push(bot);
    const token = hex(16);
    const base = join(c.dir, "bots", `${bot}-${token.slice(0, 8)}`);
    runs.push({ bot, token, data: join(base, "data"), dest: join(base, "out") });
    docs.push(
      `kind: token\nversion: v2\nmetadata:\n  name: ${token}\nspec:\n  roles: [Bot]\n  bot_name: ${bot}\n  join_method: token\n`,
    );
  }
  if (bots.length) {
    const botDocs = bots.map(
      (b) =>
        `kind: bot\nversion: v1\nmetadata:\n  name: ${b}\nspec:\n  roles: [${roles}]\n  traits: [{name: logins, values: [root]}]\n`,
    );
    createResources(c, botDocs);
  }
  createResources(c, docs);
  return runs;
}

function createResources(c: Cluster, docs: string[]): void {
  mkdirSync(join(c.dir, "bots"), { recursive: true });
  const file = join(c.dir, "bots", `resources-${seq++}.yaml`);
  writeFileSync(file, docs.join("---\n"));
  c.tctlOk(["create", "-f", file]);
  rmSync(file);
}

export function tbotArgs(c: Cluster, r: BotRun, extra: string[] = []): string[] {
  return [
    ...[bin("tbot"), "start", "--data-dir", r.data, "--destination-dir", r.dest, "--token", r.token],
    ...["--join-method", "token", "--auth-server", c.addr, "--ca-pin", c.pin, ...extra],
  ];
}

export const oneShotArgs = (c: Cluster, r: BotRun) => tbotArgs(c, r, ["--oneshot"]);
export const daemonArgs = (c: Cluster, r: BotRun, interval = "200ms") =>
  tbotArgs(c, r, ["--renewal-interval", interval, "--certificate-ttl", "5m"]);

export const RENEWED = /Renewed bot identity[^\n]*\n[^\n]*Generated output/;
export const JOINED_OR_RENEWED = /(Fetched new|Renewed) bot identity[^\n]*\n[^\n]*Generated output/;
