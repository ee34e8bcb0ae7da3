// Time to serve again (Part 7, point 7), on loopback with the compiled binary: tauth replicas on
// PostgreSQL behind HAProxy (test/harness/haproxy.ts) while a client renews bot identities
// through HAProxy — a renewal started every --every ms (default 10), each on a new TLS
// connection, taking turns over --bots bots (one renewal in flight per bot; a failed one is
// asked again with the same key, as tbot does).
//
// 1. `kill -9` of one replica of 3 (in turn), --kills times: renewals failed, the failure window
//    (start of the first failed renewal → start of the first one that succeeded after the last
//    failure), the slowest renewal around it, kill → HAProxy marks it DOWN; then the replica
//    started again as itself (same ID, port, data directory): → listening, → its /readyz 200,
//    → HAProxy UP, → first renewal through HAProxy answered by it (X-Tauth-Replica).
// 2. Failover, --failovers times, each on a new primary + streaming standby with 2 replicas
//    whose conn string lists both (target_session_attrs=read-write): the primary stopped, the
//    standby promoted (pg_promote), → first renewal through HAProxy, → every replica renews
//    (asked directly, one prober per replica).
// 3. On the cluster of 1: every tauth session ended (pg_terminate_backend), --terminations
//    times, and PostgreSQL stopped and started again, --restarts times: → first renewal through
//    HAProxy, → every replica renews.
//
//   bun bench/recovery.ts [--kills 10] [--failovers 3] [--terminations 5] [--restarts 3]
//                         [--every 10] [--bots 20] [--only kill,failover,db]
// Uses $TBOT_DIST (default dist/); builds it only when missing.

import { readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { type FreshKey, freshKey } from "../src/agent/identity/bot-identity.ts";
import { runJoin } from "../src/join/client.ts";
import { tokenJoinClient } from "../src/join/token/client.ts";
import { ApiClient } from "../src/protocol/client.ts";
import { type JoinResult, paths, type RenewRequest } from "../src/protocol/messages.ts";
import { bin, checkBuilt, cleanupAll, freePort, runSync, workDir } from "../test/harness/fault.ts";
import { ChaosReplica } from "../test/harness/ha-chaos.ts";
import { type HaproxyHandle, startHaproxy } from "../test/harness/haproxy.ts";
import { type PgServer, startPostgres, stopAllPostgres } from "../test/harness/postgres.ts";
import { readyz, tauthDatabase, terminateTauthSessions } from "../test/harness/tauth-replicas.ts";
import { summary } from "./lib.ts";

const argv = process.argv;
const arg = (name: string) => {
  const i = argv.indexOf(`--${name}`);
  return i > 0 ? argv[i + 1] : undefined;
};
const num = (name: string, dflt: number) => Number(arg(name) ?? dflt);
const KILLS = num("kills", 10);
const FAILOVERS = num("failovers", 3);
const TERMINATIONS = num("terminations", 5);
const RESTARTS = num("restarts", 3);
const EVERY_MS = num("every", 10);
const BOTS = num("bots", 20);
const ONLY = new Set((arg("only") ?? "kill,failover,db").split(","));
/** A renewal not answered within this long counts as failed. */
const TIMEOUT_MS = 5_000;
/** Longest wait for anything to serve again before the round counts as "not within". */
const GIVE_UP_MS = 30_000;
const PASSWORD = "recovery-Pa55";

const now = () => performance.now();

// ---- Machine load, sampled through the run (other work shares these 2 cores). ----

const loads: number[] = [];
const sampleLoad = () => loads.push(Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]));
sampleLoad();
const loadTimer = setInterval(sampleLoad, 5_000);

// ---- Bots and renewals ----

interface Bot {
  certPem: string;
  keyPem: string;
  /** The key of a renewal not answered yet: asked again with it (key_kept), as tbot does. */
  pending?: FreshKey;
  busy: boolean;
}

interface Sample {
  start: number;
  end: number;
  ok: boolean;
  replica: string;
  why: string;
}

async function renewOnce(addr: string, ca: string[], bot: Bot): Promise<Sample> {
  bot.pending ??= await freshKey();
  const key = bot.pending;
  const req: RenewRequest = {
    public_keys: key.publicKeys,
    expires: new Date(Date.now() + 3600_000).toISOString(),
    key_kept: true,
  };
  const start = now();
  try {
    const res = await fetch(`https://${addr}${paths.renew}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(req),
      tls: { ca, cert: bot.certPem, key: bot.keyPem },
      keepalive: false,
      signal: AbortSignal.timeout(TIMEOUT_MS),
    } as RequestInit);
    const text = await res.text();
    const replica = res.headers.get("x-tauth-replica") ?? "";
    if (!res.ok) return { start, end: now(), ok: false, replica, why: `${res.status} ${text.slice(0, 120)}` };
    bot.certPem = (JSON.parse(text) as JoinResult).certificates.tls_cert;
    bot.keyPem = key.keyPem;
    bot.pending = undefined;
    return { start, end: now(), ok: true, replica, why: "" };
  } catch (e) {
    return { start, end: now(), ok: false, replica: "", why: (e as Error).message };
  }
}

/** Renewals started every `everyMs` at `addr`, taking turns over `bots` (skipping busy ones). */
class Load {
  readonly samples: Sample[] = [];
  skipped = 0;
  private stopped = false;
  private loop: Promise<void> | undefined;
  constructor(
    readonly addr: string,
    readonly ca: string[],
    readonly bots: Bot[],
    readonly everyMs: number,
  ) {}

  start(): this {
    this.loop = (async () => {
      const inflight = new Set<Promise<void>>();
      let turn = 0;
      let next = now();
      while (!this.stopped) {
        let bot: Bot | undefined;
        const n = this.bots.length;
        for (let k = 0; k < n && !bot; k++) {
          const b = this.bots[(turn + k) % n]!;
          if (!b.busy) {
            bot = b;
            turn = (turn + k + 1) % n;
          }
        }
        if (bot) {
          bot.busy = true;
          const p: Promise<void> = renewOnce(this.addr, this.ca, bot).then((s) => {
            this.samples.push(s);
            bot.busy = false;
            inflight.delete(p);
          });
          inflight.add(p);
        } else this.skipped++;
        next += this.everyMs;
        await Bun.sleep(Math.max(0, next - now()));
      }
      await Promise.all(inflight);
    })();
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  /** Samples of renewals still running at `t` or started after it, by start. */
  from(t: number): Sample[] {
    return this.samples.filter((s) => s.end >= t).sort((a, b) => a.start - b.start);
  }

  /** End of the first successful renewal that ended after `t` (and started after `startedAfter`). */
  async firstSuccess(
    t: number,
    startedAfter = Number.NEGATIVE_INFINITY,
    replica?: string,
  ): Promise<number | null> {
    const until = now() + GIVE_UP_MS;
    for (;;) {
      const s = this.samples.find(
        (x) =>
          x.ok && x.end >= t && x.start >= startedAfter && (replica === undefined || x.replica === replica),
      );
      if (s) return s.end;
      if (now() > until) return null;
      await Bun.sleep(5);
    }
  }
}

/** Failed renewals among `samples`, and the window: first failure's start → start of the first success after the last failure. */
function failureWindow(samples: Sample[]): { failed: number; windowMs: number; reasons: string[] } {
  const failed = samples.filter((s) => !s.ok);
  if (!failed.length) return { failed: 0, windowMs: 0, reasons: [] };
  const last = failed[failed.length - 1]!.start;
  const after = samples.find((s) => s.ok && s.start > last);
  const reasons = [...new Set(failed.map((s) => s.why.replace(/\d+/g, "N").slice(0, 80)))];
  return { failed: failed.length, windowMs: (after?.start ?? now()) - failed[0]!.start, reasons };
}

/** The longest successful renewal among `samples` (a stall seen by the client). */
const slowest = (samples: Sample[]) =>
  Math.max(0, ...samples.filter((s) => s.ok).map((s) => s.end - s.start));

/** One prober per replica, renewing its own bot directly every 10 ms until it succeeds; when each did. */
async function probeEach(
  replicas: ChaosReplica[],
  ca: string[],
  bots: Bot[],
): Promise<{ all: number | null; failed: number }> {
  let failed = 0;
  const ends = await Promise.all(
    replicas.map(async (r, i) => {
      const until = now() + GIVE_UP_MS;
      while (now() < until) {
        const s = await renewOnce(r.addr, ca, bots[i]!);
        if (s.ok) return s.end;
        failed++;
        await Bun.sleep(10);
      }
      return null;
    }),
  );
  return { all: ends.includes(null) ? null : Math.max(...(ends as number[])), failed };
}

// ---- A cluster: replicas on a conn string, HAProxy, bots joined through it. ----

interface Cluster {
  replicas: ChaosReplica[];
  lb: HaproxyHandle;
  ca: string[];
  load: Load;
  probers: Bot[];
}

function tctl(addr: string, r: ChaosReplica, args: string[]): string {
  const out = runSync([
    bin("tctl"),
    "--auth-server",
    addr,
    "--identity",
    join(r.dataDir, "admin-identity"),
    ...args,
  ]);
  if (out.code !== 0) throw new Error(`tctl ${args.join(" ")}: ${out.stderr}`);
  return out.stdout;
}

async function startCluster(connString: string, n: number, dir: string): Promise<Cluster> {
  const replicas: ChaosReplica[] = [];
  for (let i = 1; i <= n; i++)
    replicas.push(new ChaosReplica(`r${i}`, await freePort(), join(dir, `r${i}`), connString));
  // The first makes the cluster; the others join it.
  await replicas[0]!.start();
  await Promise.all(replicas.slice(1).map((r) => r.start()));
  const lb = await startHaproxy(replicas.map((r) => ({ name: r.id, port: r.port })));
  await lb.waitFor("UP");
  const ca = [tctl(lb.addr, replicas[0]!, ["auth", "export", "--type=tls-host"])];
  const joinBot = async (name: string): Promise<Bot> => {
    const grant = JSON.parse(
      tctl(lb.addr, replicas[0]!, ["bots", "add", name, "--roles=access", "--format=json"]),
    );
    const key = await freshKey();
    const joined = await runJoin(
      new ApiClient(lb.addr, { ca, keepAlive: false }),
      { tokenName: grant.token_id, publicKeys: key.publicKeys, expires: new Date(Date.now() + 3600_000) },
      tokenJoinClient,
    );
    return { certPem: joined.certificates.tls_cert, keyPem: key.keyPem, busy: false };
  };
  const bots: Bot[] = [];
  for (let i = 0; i < BOTS; i++) bots.push(await joinBot(`load-${i}`));
  const probers: Bot[] = [];
  for (const r of replicas) probers.push(await joinBot(`probe-${r.id}`));
  const load = new Load(lb.addr, ca, bots, EVERY_MS).start();
  await Bun.sleep(1_500); // warm-up
  return { replicas, lb, ca, load, probers };
}

async function stopCluster(c: Cluster | undefined): Promise<void> {
  if (!c) return;
  await c.load.stop();
  await c.lb.stop().catch(() => {});
  rmSync(dirname(c.lb.cfgPath), { recursive: true, force: true });
  for (const r of c.replicas) await r.kill9();
}

async function stopPostgres(pg: PgServer | undefined): Promise<void> {
  if (!pg) return;
  await pg.stop().catch(() => {});
  rmSync(pg.socketDir, { recursive: true, force: true });
}

/** Polls until `cond` holds (every `everyMs`); the moment it did, or null after GIVE_UP_MS. */
async function when(cond: () => Promise<boolean> | boolean, everyMs = 10): Promise<number | null> {
  const until = now() + GIVE_UP_MS;
  for (;;) {
    if (await cond()) return now();
    if (now() > until) return null;
    await Bun.sleep(everyMs);
  }
}

// ---- Figures ----

const figures = new Map<string, (number | null)[]>();
const record = (name: string, v: number | null) => {
  if (!figures.has(name)) figures.set(name, []);
  figures.get(name)!.push(v);
};
const since = (t: number | null, from: number) => (t === null ? null : t - from);
const log = (s: string) => console.log(s);
const f1 = (x: number | null) => (x === null ? "—" : x.toFixed(0));

// ---- 1. kill -9 of a replica behind HAProxy, and its restart ----

async function replicaKills(pg: PgServer, url: string, dir: string): Promise<void> {
  let c: Cluster | undefined;
  try {
    c = await startCluster(url, 3, dir);
    for (let i = 0; i < KILLS; i++) {
      const victim = c.replicas[i % c.replicas.length]!;
      const tKill = now();
      await victim.kill9();
      const tDead = now();
      const tDown = await when(
        async () => (await c!.lb.states())[victim.id]?.startsWith("DOWN") ?? false,
        20,
      );
      await Bun.sleep(1_000);
      const around = c.load.from(tKill);
      const w = failureWindow(around);
      const slow = slowest(around);
      // Renewals started once the process was gone (its exit seen): HAProxy sent them to it.
      const inFlight = around.filter((s) => !s.ok && s.start < tDead).length;
      record("kill: renewals failed", w.failed);
      record("kill: — of them started after its exit", w.failed - inFlight);
      record("kill: failure window", w.windowMs);
      record("kill: slowest renewal around the kill", slow);
      record("kill: → HAProxy marks it DOWN", since(tDown, tKill));

      const tStart = now();
      let tReady: number | null = null;
      const ready = when(async () => (await readyz(victim.addr)).status === 200).then((t) => {
        tReady = t;
      });
      await victim.start();
      const tListen = now();
      await ready;
      const tUp = await when(async () => (await c!.lb.states())[victim.id] === "UP", 20);
      const tServed = await c.load.firstSuccess(tStart, tStart, victim.id);
      record("restart: → listening", tListen - tStart);
      record("restart: → its /readyz 200", since(tReady, tStart));
      record("restart: → HAProxy marks it UP", since(tUp, tStart));
      record("restart: → first renewal through HAProxy answered by it", since(tServed, tStart));
      log(
        `kill ${i + 1}/${KILLS} ${victim.id}: ${w.failed} failed, ${inFlight} in flight at its exit (${w.reasons.join("; ")}), window ${f1(w.windowMs)} ms, slowest ${f1(slow)} ms, DOWN after ${f1(since(tDown, tKill))} ms; restart: listening ${f1(tListen - tStart)}, ready ${f1(since(tReady, tStart))}, UP ${f1(since(tUp, tStart))}, served ${f1(since(tServed, tStart))} ms`,
      );
      await Bun.sleep(1_000);
    }
    // 3. on the same cluster: every tauth session ended, then PostgreSQL restarted.
    if (ONLY.has("db")) await databaseEvents(pg, c);
  } finally {
    await stopCluster(c);
  }
}

/**
 * After a database event begun at `t0` and over at `tOver` (`over` names that moment): the
 * renewals failed, the slowest one, and the times until HAProxy and every replica serve again.
 * `startedAfter`: count only renewals started after it (the event did not stop the database).
 */
async function servedAgain(
  c: Cluster,
  name: string,
  t0: number,
  tOver: number,
  over: string,
  startedAfter?: number,
): Promise<string> {
  const probes = probeEach(c.replicas, c.ca, c.probers);
  const tLb = await c.load.firstSuccess(tOver, startedAfter);
  const { all, failed: probeFailed } = await probes;
  await Bun.sleep(500);
  const around = c.load.from(t0);
  const w = failureWindow(around);
  const started = startedAfter === undefined ? "" : " started after it";
  record(`${name}: renewals failed`, w.failed);
  record(`${name}: slowest renewal across it`, slowest(around));
  record(`${name}: ${over} → first renewal through HAProxy${started}`, since(tLb, tOver));
  record(`${name}: ${over} → every replica renews (direct)`, since(all, tOver));
  if (startedAfter === undefined)
    record(`${name}: first command → first renewal through HAProxy`, since(tLb, t0));
  return `${w.failed} failed (${w.reasons.join("; ")}), slowest ${f1(slowest(around))} ms; ${over} → HAProxy ${f1(since(tLb, tOver))} ms, every replica ${f1(since(all, tOver))} ms (${probeFailed} direct tries failed)`;
}

async function databaseEvents(pg: PgServer, c: Cluster): Promise<void> {
  for (let i = 0; i < TERMINATIONS; i++) {
    const t0 = now();
    const ended = terminateTauthSessions(pg);
    const t1 = now();
    const line = await servedAgain(c, "terminate", t0, t1, "returned", t1);
    log(`terminate ${i + 1}/${TERMINATIONS}: ${ended} sessions; ${line}`);
    await Bun.sleep(1_000);
  }
  for (let i = 0; i < RESTARTS; i++) {
    const t0 = now();
    await pg.stop();
    const tStopped = now();
    await pg.restart();
    const tReady = now();
    record("pg restart: stop (fast shutdown) + start until it accepts connections", tReady - t0);
    const line = await servedAgain(c, "pg restart", t0, tReady, "accepting connections");
    log(
      `pg restart ${i + 1}/${RESTARTS}: stopped in ${f1(tStopped - t0)} ms, ready after ${f1(tReady - t0)} ms; ${line}`,
    );
    await c.lb.waitFor("UP", undefined, GIVE_UP_MS).catch(() => {});
    await Bun.sleep(1_000);
  }
}

// ---- 2. failover to a promoted standby ----

async function failover(round: number, dir: string): Promise<void> {
  let primary: PgServer | undefined;
  let standby: PgServer | undefined;
  let c: Cluster | undefined;
  try {
    primary = await startPostgres();
    tauthDatabase(primary, PASSWORD);
    standby = await startPostgres({ standbyOf: primary });
    // Both hosts; tauth uses the writable one (docs/commands.md, --conn-string).
    const hosts = [primary, standby].map((p) => `127.0.0.1:${p.port}`).join(",");
    c = await startCluster(
      `postgresql://tauth:${PASSWORD}@${hosts}/tauth?target_session_attrs=read-write`,
      2,
      join(dir, `failover-${round}`),
    );
    const t0 = now();
    await primary.stop();
    const tStopped = now();
    standby.psql("SELECT pg_promote()");
    const tPromoted = now();
    record("failover: primary stop (fast shutdown)", tStopped - t0);
    record("failover: pg_promote()", tPromoted - tStopped);
    const line = await servedAgain(c, "failover", t0, tPromoted, "promoted");
    log(
      `failover ${round + 1}/${FAILOVERS}: stop ${f1(tStopped - t0)} ms, promote ${f1(tPromoted - tStopped)} ms; ${line}`,
    );
  } finally {
    await stopCluster(c);
    await stopPostgres(standby);
    await stopPostgres(primary);
  }
}

// ---- Run ----

checkBuilt();
const dir = workDir("recovery-");
const t0 = Date.now();
const started = new Date().toISOString();
let pg: PgServer | undefined;
const teardown = async () => {
  clearInterval(loadTimer);
  await stopAllPostgres();
  await cleanupAll();
  if (pg) rmSync(pg.socketDir, { recursive: true, force: true });
};
for (const sig of ["SIGINT", "SIGTERM"] as const)
  process.on(sig, () => teardown().then(() => process.exit(130)));
try {
  if (ONLY.has("kill") || ONLY.has("db")) {
    pg = await startPostgres();
    const url = tauthDatabase(pg, PASSWORD);
    if (!ONLY.has("kill")) {
      const c = await startCluster(url, 3, join(dir, "db"));
      try {
        await databaseEvents(pg, c);
      } finally {
        await stopCluster(c);
      }
    } else await replicaKills(pg, url, join(dir, "kills"));
    await stopPostgres(pg);
    pg = undefined;
  }
  if (ONLY.has("failover")) for (let i = 0; i < FAILOVERS; i++) await failover(i, dir);
} finally {
  await teardown();
}

const rows = [...figures].map(([name, vs]) => {
  const got = vs.filter((v): v is number => v !== null);
  const s = got.length ? summary(got) : null;
  const missed = vs.length - got.length;
  return `| ${name} | ${s ? f1(s.median) : "—"} | ${s ? f1(s.max) : "—"} | ${vs.length}${missed ? ` (${missed} not within ${GIVE_UP_MS / 1000} s)` : ""} |`;
});
console.log(`
Recovery on loopback (${started}, ${((Date.now() - t0) / 1000).toFixed(0)} s; renewals every ${EVERY_MS} ms over ${BOTS} bots through HAProxy; 1-min load average ${Math.min(...loads).toFixed(2)}–${Math.max(...loads).toFixed(2)})

| figure (ms, counts for "failed") | median | max | rounds |
| --- | --- | --- | --- |
${rows.join("\n")}`);
process.exit(0);
