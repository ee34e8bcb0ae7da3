// Renewal and join throughput of tauth, and the same renewals against step-ca, in one run.
//
//   bun bench/renewal.ts [--seconds 5] [--rounds 3] [--clients 1,8,32] [--backends sqlite,pg1,pg2]
//                        [--workers 1|N|auto] [--no-stepca] [--no-bots-scale] [--bots 100000]
//                        [--stepca-backends sqlite,pg1] [--cpu-prof DIR] [--keep]
//
//  1. Renewals/s, p50/p99 and server CPU ms per renewal at 1, 8 and 32 concurrent clients, on
//     SQLite, PostgreSQL with one replica and with two (each with --workers, default 1), every
//     renewal on a new TLS 1.3 connection. The clients are one Go program (bench/stepca/
//     loadgen), the same for tauth and step-ca; server CPU is utime+stime of the tauth process
//     and its workers (and of PostgreSQL, shown apart) from /proc, before and after.
//  2. Joins/s (token joins, 8 at once, this process's client code) with p50/p99 and CPU.
//  3. Renewal p50 (1 client) with 1,000 and with --bots (100,000) bots and instances in the
//     backend, written straight into the database (copies of a joined bot's records).
//  4. step-ca 0.19 (built from Debian's Go sources, bench/stepca/) against tauth, interleaved:
//     each round runs every client count on both servers, the order alternating; the figure
//     is the median of the per-round ratios (tauth / step-ca).
// LOADGEN_PHASES=1 prints each load figure's JSON and its 8 slowest renewals split into phases
// (TCP connected, TLS handshake done, request written, first response byte).
// Replica kills and database failovers are measured by bench/ha-chaos.ts, lock propagation
// by bench/lock-propagation.ts.

import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type Subprocess, spawn } from "bun";
import { freshKey } from "../src/agent/identity/bot-identity.ts";
import { parseIdentityFile } from "../src/crypto/identity-file.ts";
import { runJoin } from "../src/join/client.ts";
import { tokenJoinClient } from "../src/join/token/client.ts";
import { ApiClient } from "../src/protocol/client.ts";
import { type PgServer, startPostgres, stopAllPostgres } from "../test/harness/postgres.ts";
import { bin, ensureBuilt, freePort, summary } from "./lib.ts";
import { buildGoTools } from "./stepca/build.ts";
import { type StepCa, startStepCa } from "./stepca/stepca.ts";

const { values: opt } = parseArgs({
  options: {
    seconds: { type: "string", default: "5" },
    rounds: { type: "string", default: "3" },
    clients: { type: "string", default: "1,8,32" },
    backends: { type: "string", default: "sqlite,pg1,pg2" },
    workers: { type: "string", default: "1" },
    "no-stepca": { type: "boolean", default: false },
    "no-bots-scale": { type: "boolean", default: false },
    bots: { type: "string", default: "100000" },
    "stepca-backends": { type: "string", default: "sqlite,pg1" },
    /** Run tauth from source under Bun's sampling profiler, profiles (.cpuprofile, .md) into DIR. */
    "cpu-prof": { type: "string" },
    /** Keep the work directory (data directories, tauth.log of each replica, step-ca's logs). */
    keep: { type: "boolean", default: false },
  },
});
const seconds = Number(opt.seconds);
const rounds = Number(opt.rounds);
const clientCounts = opt.clients!.split(",").map(Number);
const maxClients = Math.max(...clientCounts);
const CLK_TCK = 100;

// ---- process CPU from /proc ----

function descendants(pid: number): number[] {
  const out = [pid];
  for (const p of out) {
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      continue;
    }
    for (const t of tasks) {
      try {
        const text = readFileSync(`/proc/${p}/task/${t}/children`, "utf8").trim();
        if (text) out.push(...text.split(/\s+/).map(Number));
      } catch {}
    }
  }
  return out;
}

/** CPU time (ms) used so far by `pid` and every process under it. */
function cpuMs(pid: number): number {
  let ticks = 0;
  for (const p of descendants(pid)) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(f[11]) + Number(f[12]); // utime, stime (fields 14, 15)
    } catch {}
  }
  return (ticks * 1000) / CLK_TCK;
}

// ---- tauth ----

interface Tauth {
  addr: string;
  pid: number;
  dir: string;
  proc: Subprocess;
  stop(): Promise<void>;
}

async function startTauth(dir: string, storage: string[], id: string): Promise<Tauth> {
  const port = await freePort();
  const addr = `127.0.0.1:${port}`;
  const profDir = opt["cpu-prof"];
  // From source under the profiler: BUN_OPTIONS reaches every worker too.
  const tauthCmd = profDir
    ? [process.execPath, join(import.meta.dir, "..", "src", "main.ts"), "tauth"]
    : [bin("tauth")];
  const proc = spawn(
    [
      ...tauthCmd,
      "start",
      "--data-dir",
      dir,
      "--listen",
      addr,
      "--cluster-name",
      "bench.test",
      "--workers",
      opt.workers!,
      "--replica-id",
      id,
      ...storage,
    ],
    {
      stdout: "ignore",
      stderr: "pipe",
      env: {
        ...process.env,
        TAUTH_LIMITS: "join_rate=off,conns_per_ip=off",
        ...(profDir ? { BUN_OPTIONS: `--cpu-prof --cpu-prof-md --cpu-prof-dir=${profDir}` } : {}),
      },
    },
  );
  const dec = new TextDecoder();
  let log = "";
  for await (const c of proc.stderr as ReadableStream<Uint8Array>) {
    log += dec.decode(c);
    if (log.includes("Auth service is listening")) break;
  }
  if (!log.includes("Auth service is listening")) throw new Error(`tauth did not start:\n${log}`);
  // Keep draining its log (into DIR/tauth.log, kept with --keep) so a full pipe never stalls it.
  const logFile = Bun.file(join(dir, "tauth.log")).writer();
  logFile.write(log);
  (async () => {
    for await (const c of proc.stderr as ReadableStream<Uint8Array>) logFile.write(c);
    await logFile.end();
  })();
  return {
    addr,
    pid: proc.pid,
    dir,
    proc,
    async stop() {
      proc.kill("SIGTERM");
      await proc.exited;
    },
  };
}

interface Bench {
  name: string;
  replicas: Tauth[];
  pg?: PgServer;
  work: string;
  caFile: string;
  idsFile: string;
  admin: ApiClient;
  hostCa: string[];
  /** Bots with tokens not used yet, for the join figures. */
  tokens: string[];
  stop(): Promise<void>;
}

const inAnHour = () => new Date(Date.now() + 3600_000);

async function addTokenBot(admin: ApiClient, name: string): Promise<string> {
  const r = await admin.post<{ token_name: string }>("/v1/admin/bots/add", {
    name,
    roles: ["access"],
    logins: ["root"],
  });
  return r.token_name;
}

async function setUp(name: string, work: string): Promise<Bench> {
  mkdirSync(work, { recursive: true });
  let pg: PgServer | undefined;
  let storage: string[] = [];
  if (name !== "sqlite") {
    pg = await startPostgres();
    pg.createRole("tauth", "bench-Pa55");
    pg.createDatabase("tauth", "tauth");
    storage = ["--conn-string", pg.url({ user: "tauth", password: "bench-Pa55", database: "tauth" })];
  }
  const n = name === "pg2" ? 2 : 1;
  const replicas: Tauth[] = [];
  for (let i = 0; i < n; i++) replicas.push(await startTauth(join(work, `r${i}`), storage, `r${i}`));
  const id = parseIdentityFile(readFileSync(join(work, "r0", "admin-identity"), "utf8"));
  const admin = new ApiClient(replicas[0]!.addr, {
    ca: id.tlsCaPems,
    cert: id.tlsCertPem,
    key: id.privateKeyPem,
  });
  const caFile = join(work, "host-ca.pem");
  writeFileSync(caFile, id.tlsCaPems.join("\n"));
  // One joined bot per client; each keeps its key and renews the certificate it was given.
  const ids: { cert: string; key: string; tls_public_key: string; ssh_public_key: string }[] = [];
  for (let i = 0; i < maxClients; i++) {
    const token = await addTokenBot(admin, `renewer-${i}`);
    const key = await freshKey();
    const api = new ApiClient(replicas[i % n]!.addr, { ca: id.tlsCaPems, keepAlive: false });
    const res = await runJoin(
      api,
      { tokenName: token, publicKeys: key.publicKeys, expires: inAnHour() },
      tokenJoinClient,
    );
    ids.push({
      cert: res.certificates.tls_cert,
      key: key.keyPem,
      tls_public_key: key.publicKeys.tls_public_key,
      ssh_public_key: key.publicKeys.ssh_public_key,
    });
  }
  const idsFile = join(work, "ids.json");
  writeFileSync(idsFile, JSON.stringify(ids));
  return {
    name,
    replicas,
    pg,
    work,
    caFile,
    idsFile,
    admin,
    hostCa: id.tlsCaPems,
    tokens: [],
    async stop() {
      for (const r of replicas) await r.stop();
      await pg?.stop();
    },
  };
}

// ---- the load generator ----

interface LoadResult {
  ok: number;
  errors: number;
  seconds: number;
  rate: number;
  p50_ms: number;
  p99_ms: number;
  first_error?: string;
  serverCpuMsPer: number;
  dbCpuMsPer: number;
}

async function loadgen(
  tools: { loadgen: string },
  mode: "tauth" | "stepca",
  addrs: string[],
  caFile: string,
  idsFile: string,
  clients: number,
  secs: number,
  cpuPids: number[],
  dbPid?: number,
): Promise<LoadResult> {
  const cpu0 = cpuPids.reduce((a, p) => a + cpuMs(p), 0);
  const db0 = dbPid ? cpuMs(dbPid) : 0;
  // Not spawnSync: this process must keep reading PostgreSQL's log pipe meanwhile (the test
  // harness pumps it), or a server process blocks on a full pipe inside a transaction.
  const p = spawn(
    [
      tools.loadgen,
      "-mode",
      mode,
      "-addr",
      addrs.join(","),
      "-ca",
      caFile,
      "-ids",
      idsFile,
      "-clients",
      String(clients),
      "-duration",
      `${secs}s`,
    ],
    { stdout: "pipe", stderr: "pipe" },
  );
  const [stdout, stderr, code] = await Promise.all([
    new Response(p.stdout).text(),
    new Response(p.stderr).text(),
    p.exited,
  ]);
  const cpu1 = cpuPids.reduce((a, p) => a + cpuMs(p), 0);
  const db1 = dbPid ? cpuMs(dbPid) : 0;
  if (code !== 0) throw new Error(`loadgen: ${stderr}`);
  const out = JSON.parse(stdout) as LoadResult;
  if (process.env.LOADGEN_PHASES) console.error(stdout.trim(), stderr.trim());
  out.serverCpuMsPer = (cpu1 - cpu0) / Math.max(1, out.ok);
  out.dbCpuMsPer = (db1 - db0) / Math.max(1, out.ok);
  return out;
}

const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);

function row(cells: (string | number)[]): string {
  return `| ${cells.join(" | ")} |`;
}

// ---- joins ----

async function joins(b: Bench, count: number, concurrency: number) {
  const tokens: string[] = [];
  for (let i = 0; i < count; i++) tokens.push(await addTokenBot(b.admin, `joiner-${Date.now()}-${i}`));
  const key = await freshKey();
  const apis = b.replicas.map((r) => new ApiClient(r.addr, { ca: b.hostCa, keepAlive: false }));
  const lat: number[] = [];
  let next = 0;
  let failures = 0;
  const pids = b.replicas.map((r) => r.pid);
  const cpu0 = pids.reduce((a, p) => a + cpuMs(p), 0);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      while (next < tokens.length) {
        const token = tokens[next++]!;
        const s = performance.now();
        try {
          await runJoin(
            apis[w % apis.length]!,
            { tokenName: token, publicKeys: key.publicKeys, expires: inAnHour() },
            tokenJoinClient,
          );
          lat.push(performance.now() - s);
        } catch {
          failures++;
        }
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  const cpu = pids.reduce((a, p) => a + cpuMs(p), 0) - cpu0;
  const s = summary(lat);
  return {
    rate: lat.length / secs,
    p50: s.median,
    p99: s.p99,
    cpuPer: cpu / Math.max(1, lat.length),
    failures,
  };
}

// ---- many bots ----

/** Copies of renewer-0's bot and its instance, numbered [from, to), straight into the database. */
function populate(b: Bench, from: number, to: number): void {
  if (to <= from) return;
  const exec = (sql: string) => {
    if (b.pg) return void b.pg.psql(sql, "tauth");
    const { Database } = require("bun:sqlite") as typeof import("bun:sqlite");
    const db = new Database(join(b.work, "r0", "tauth.db"));
    db.exec("PRAGMA busy_timeout = 10000");
    db.exec(sql);
    db.close();
  };
  const table = b.pg ? "tauth_kv" : "kv";
  const seq = b.pg
    ? `generate_series(${from}, ${to - 1}) AS g(i)`
    : `(WITH RECURSIVE s(i) AS (SELECT ${from} UNION ALL SELECT i + 1 FROM s WHERE i < ${to - 1}) SELECT i FROM s) AS g`;
  // Instance IDs are UUIDs: the copies' are the template's with the last 12 digits replaced.
  const pad = b.pg ? "lpad(g.i::text, 12, '0')" : "substr('000000000000' || g.i, -12, 12)";
  const rename = (col: string) =>
    `replace(replace(${col}, 'renewer-0', 'filler-' || g.i), t.inst, substr(t.inst, 1, 24) || ${pad})`;
  exec(`INSERT INTO ${table} (key, value, revision, expires)
    SELECT ${rename("key")}, ${rename("value")}, revision, expires
    FROM ${table}, ${seq},
      (SELECT substr(key, length('/bot_instances/renewer-0/') + 1) AS inst FROM ${table}
       WHERE key LIKE '/bot_instances/renewer-0/%' LIMIT 1) AS t
    WHERE key = '/bots/renewer-0' OR key LIKE '/bot_instances/renewer-0/%'`);
}

/** How many bots the backend holds. */
function botCount(b: Bench): number {
  const sql = `SELECT count(*) AS n FROM ${b.pg ? "tauth_kv" : "kv"} WHERE key LIKE '/bots/%'`;
  if (b.pg) return Number(b.pg.psql(sql, "tauth").trim());
  const { Database } = require("bun:sqlite") as typeof import("bun:sqlite");
  const db = new Database(join(b.work, "r0", "tauth.db"), { readonly: true });
  const n = (db.query(sql).get() as { n: number }).n;
  db.close();
  return n;
}

// ---- main ----

ensureBuilt();
const tools = buildGoTools();
const stamp = new Date().toISOString();
console.log(
  `# bench/renewal.ts ${stamp}: ${cpus().length} CPUs (${cpus()[0]?.model ?? "?"}), load ${loadavg()
    .map((x) => x.toFixed(2))
    .join(" ")}; tauth --workers ${opt.workers}; ${seconds} s per figure`,
);
const root = join(process.env.TMPDIR ?? "/tmp", `bench-renewal-${process.pid}`);
const results: string[] = [];
try {
  for (const backend of opt.backends!.split(",")) {
    const b = await setUp(backend, join(root, backend));
    try {
      console.log(`\n## ${backend}: ${b.replicas.length} replica(s)`);
      console.log(
        row([
          "clients",
          "renewals/s",
          "p50 ms",
          "p99 ms",
          "tauth CPU ms/renewal",
          "PostgreSQL CPU ms/renewal",
          "errors",
        ]),
      );
      console.log(row(["---", "---", "---", "---", "---", "---", "---"]));
      for (const c of clientCounts) {
        const r = await loadgen(
          tools,
          "tauth",
          b.replicas.map((x) => x.addr),
          b.caFile,
          b.idsFile,
          c,
          seconds,
          b.replicas.map((x) => x.pid),
          b.pg?.proc.pid,
        );
        const line = row([
          c,
          f1(r.rate),
          f1(r.p50_ms),
          f1(r.p99_ms),
          f2(r.serverCpuMsPer),
          b.pg ? f2(r.dbCpuMsPer) : "—",
          r.errors,
        ]);
        console.log(line + (r.first_error ? ` first error: ${r.first_error}` : ""));
        results.push(`${backend} ${line}`);
      }
      const j = await joins(b, 400, 8);
      console.log(
        `joins (token, 8 at once, 400): ${f1(j.rate)}/s, p50 ${f1(j.p50)} ms, p99 ${f1(j.p99)} ms, tauth CPU ${f2(j.cpuPer)} ms/join, ${j.failures} failures`,
      );
      if (!opt["no-bots-scale"] && backend !== "pg2") {
        // 1,000 bots (the renewers and joiners, then fillers), then --bots.
        const have = botCount(b);
        populate(b, 0, 1000 - have);
        const small = await loadgen(tools, "tauth", [b.replicas[0]!.addr], b.caFile, b.idsFile, 1, seconds, [
          b.replicas[0]!.pid,
        ]);
        const t0 = performance.now();
        populate(b, Math.max(0, 1000 - have), Number(opt.bots) - have);
        const filled = (performance.now() - t0) / 1000;
        const big = await loadgen(tools, "tauth", [b.replicas[0]!.addr], b.caFile, b.idsFile, 1, seconds, [
          b.replicas[0]!.pid,
        ]);
        const bots = botCount(b);
        console.log(
          `renewal p50 (1 client) with 1,000 bots: ${f2(small.p50_ms)} ms; with ${bots.toLocaleString("en")}: ${f2(big.p50_ms)} ms (${f2(big.p50_ms / small.p50_ms)}×; filled in ${f1(filled)} s)`,
        );
      }
    } finally {
      await b.stop();
    }
  }

  // ---- step-ca side by side ----
  if (!opt["no-stepca"]) {
    for (const backend of opt["stepca-backends"]!.split(",")) {
      const b = await setUp(backend, join(root, `vs-${backend}`));
      let ca: StepCa | undefined;
      try {
        ca = await startStepCa(tools, join(root, `stepca-${backend}`), maxClients);
        console.log(
          `\n## step-ca 0.19 vs tauth on ${backend} (${rounds} interleaved rounds, ${seconds} s each)`,
        );
        const per: Record<number, { t: LoadResult; s: LoadResult }[]> = {};
        for (let round = 0; round < rounds; round++) {
          for (const c of clientCounts) {
            const runT = () =>
              loadgen(
                tools,
                "tauth",
                b.replicas.map((x) => x.addr),
                b.caFile,
                b.idsFile,
                c,
                seconds,
                b.replicas.map((x) => x.pid),
              );
            const runS = () =>
              loadgen(tools, "stepca", [ca!.addr], ca!.caFile, ca!.idsFile, c, seconds, [ca!.pid]);
            let t: LoadResult;
            let s: LoadResult;
            if (round % 2 === 0) {
              t = await runT();
              s = await runS();
            } else {
              s = await runS();
              t = await runT();
            }
            per[c] = [...(per[c] ?? []), { t, s }];
            console.log(
              `round ${round + 1}, ${c} clients: tauth ${f1(t.rate)}/s p99 ${f1(t.p99_ms)} ms cpu ${f2(t.serverCpuMsPer)} ms (${t.errors} err) | step-ca ${f1(s.rate)}/s p99 ${f1(s.p99_ms)} ms cpu ${f2(s.serverCpuMsPer)} ms (${s.errors} err)`,
            );
          }
        }
        const med = (xs: number[]) => summary(xs).median;
        console.log(
          row([
            "clients",
            "step-ca /s",
            "tauth /s",
            "ratio (median of rounds)",
            "p99 step-ca / tauth ms",
            "CPU ms/renewal step-ca / tauth",
          ]),
        );
        console.log(row(["---", "---", "---", "---", "---", "---"]));
        for (const c of clientCounts) {
          const rs = per[c]!;
          console.log(
            row([
              c,
              f1(med(rs.map((x) => x.s.rate))),
              f1(med(rs.map((x) => x.t.rate))),
              `${f2(med(rs.map((x) => x.t.rate / x.s.rate)))}×`,
              `${f1(med(rs.map((x) => x.s.p99_ms)))} / ${f1(med(rs.map((x) => x.t.p99_ms)))}`,
              `${f2(med(rs.map((x) => x.s.serverCpuMsPer)))} / ${f2(med(rs.map((x) => x.t.serverCpuMsPer)))}`,
            ]),
          );
        }
      } finally {
        await ca?.stop();
        await b.stop();
      }
    }
  }
} finally {
  await stopAllPostgres();
  if (opt.keep) console.log(`work directory kept: ${root}`);
  else rmSync(root, { recursive: true, force: true });
}
console.log(
  `\nload after: ${loadavg()
    .map((x) => x.toFixed(2))
    .join(" ")}`,
);
process.exit(0);
