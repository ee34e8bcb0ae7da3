// tauth on every core: `tauth start --workers N`. The process started (the primary) prepares
// the cluster once (data directory, CAs, admin identity: start.ts prepareAuth), then runs N
// worker processes of the same binary with the same arguments. Each worker is a whole tauth
// on the same backend, listening on the same address with SO_REUSEPORT (the kernel spreads
// new connections over them); nothing is shared in memory, everything through the backend,
// as between replicas: on PostgreSQL by LISTEN/NOTIFY, on SQLite (WAL, busy_timeout) by the
// change journal that every process polls (backend/change-feed-sqlite.ts).
//
// The primary serves nothing itself. It supervises: a worker that exits is started again
// (with a backoff when it keeps failing); SIGTERM/SIGINT stop every worker, then the primary;
// SIGHUP is passed on. A worker ends itself the moment its primary is gone (the IPC channel
// closes, even on SIGKILL), so a killed tauth leaves no worker holding the port.
//
// Per-process state stays per process: the unauthenticated join rate limit and the
// connections-per-IP cap (http/limits.ts) apply in each worker, so N workers allow N times them.
// That is why one process stays the default (--workers auto asks for one per CPU): those
// limits are exact per address only in one process.
//
// Metrics (--diag-addr): each worker keeps its own registry; the primary serves the
// diagnostics listener and, at each scrape, asks every worker for its metrics over IPC and
// answers their sum (a worker that does not answer within 5 s is left out of that scrape).

import { createServer } from "node:net";
import { availableParallelism } from "node:os";
import type { Subprocess } from "bun";
import { connectionProblem, UserError } from "../util/errors.ts";
import { formatHostPort } from "../util/host-port.ts";
import { logger } from "../util/log.ts";
import type { DiagServer } from "./metrics/diag.ts";
import type { WorkerMetrics } from "./metrics/prom.ts";
import { type AuthConfig, prepareAuth } from "./start.ts";

const log = logger("AUTH");

/** Set by the primary in a worker's environment: its index, and the port to share. */
export const WORKER_ENV = "TAUTH_WORKER";
export const WORKER_PORT_ENV = "TAUTH_WORKER_PORT";

/** `--workers auto`: one worker per CPU (one process, no primary, on a single CPU). */
export const cpuWorkers = () => Math.max(1, availableParallelism());

/** In a worker: its index and the port its primary chose. */
export function workerRole(): { index: number; port: number } | undefined {
  const i = process.env[WORKER_ENV];
  if (i === undefined) return undefined;
  return { index: Number(i), port: Number(process.env[WORKER_PORT_ENV]) };
}

/**
 * In a worker: tell the primary it listens, and end at once if the primary goes away
 * (its IPC channel closes when it exits, however it exits).
 */
export function workerListening(): void {
  process.on("disconnect", () => process.exit(1));
  process.send?.({ ready: true });
}

/** This program again, as tauth: the compiled binary under its tauth name, or bun + the script. */
function selfCommand(args: string[]): { cmd: string[]; argv0: string } {
  const script = process.argv[1] ?? "";
  if (script.startsWith("/$bunfs/") || script.startsWith("B:/~BUN/"))
    return { cmd: [process.execPath, ...args], argv0: process.argv0 };
  return { cmd: [process.execPath, script, "tauth", ...args], argv0: process.execPath };
}

/** The port to share: the one asked for, or (port 0) one free now. */
async function choosePort(host: string, port: number): Promise<number> {
  if (port !== 0) return port;
  const s = createServer();
  await new Promise<void>((resolve, reject) => {
    s.once("error", reject);
    s.listen(0, host, () => resolve());
  });
  const a = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return typeof a === "object" && a ? a.port : 0;
}

const RESTART_MIN_MS = 250;
const RESTART_MAX_MS = 30_000;
/** A worker that ran this long before exiting is restarted at once (not a crash loop). */
const HEALTHY_AFTER_MS = 10_000;
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;
/** How long a scrape waits for a worker's metrics. */
const METRICS_TIMEOUT_MS = 5_000;

interface Slot {
  index: number;
  proc?: Subprocess;
  startedAt: number;
  failures: number;
  ready: boolean;
  timer?: ReturnType<typeof setTimeout>;
}

/**
 * The primary: prepare once, run `count` workers with `args` (tauth start's own arguments),
 * supervise them until SIGTERM/SIGINT. Resolves to the exit code.
 */
export async function runPrimary(cfg: AuthConfig, count: number, args: string[]): Promise<number> {
  const prepared = await prepareAuth(cfg);
  const port = await choosePort(cfg.listenHost, cfg.listenPort);
  const { cmd, argv0 } = selfCommand(args);
  let stopping = false;
  let diag: DiagServer | undefined;
  let firstStart: ((err?: Error) => void) | undefined;
  const slots: Slot[] = Array.from({ length: count }, (_, index) => ({
    index,
    startedAt: 0,
    failures: 0,
    ready: false,
  }));
  // Scrapes waiting for workers' metrics, by request id.
  const pending = new Map<number, (m: WorkerMetrics | undefined) => void>();
  let requestSeq = 0;
  const workerMetrics = (slot: Slot) =>
    new Promise<WorkerMetrics | undefined>((resolve) => {
      const id = ++requestSeq;
      const timer = setTimeout(() => finish(undefined), METRICS_TIMEOUT_MS);
      const finish = (m: WorkerMetrics | undefined) => {
        clearTimeout(timer);
        pending.delete(id);
        resolve(m);
      };
      pending.set(id, finish);
      try {
        slot.proc?.send({ tauthMetrics: id });
      } catch {
        finish(undefined);
      }
    });
  const gatherMetrics = async () => {
    const live = slots.filter((s) => s.proc && s.ready);
    const all = await Promise.all(live.map(workerMetrics));
    return all.filter((m): m is WorkerMetrics => !!m);
  };

  const spawnWorker = (slot: Slot) => {
    slot.ready = false;
    slot.startedAt = Date.now();
    const proc = Bun.spawn(cmd, {
      argv0,
      env: { ...process.env, [WORKER_ENV]: String(slot.index), [WORKER_PORT_ENV]: String(port) },
      stdio: ["ignore", "inherit", "inherit"],
      ipc(message) {
        const reply = message as { tauthMetricsReply?: number; metrics?: WorkerMetrics } | null;
        if (reply?.tauthMetricsReply !== undefined) {
          pending.get(reply.tauthMetricsReply)?.(reply.metrics);
          return;
        }
        if ((message as { ready?: boolean })?.ready) {
          slot.ready = true;
          if (slots.every((s) => s.ready)) firstStart?.();
        }
      },
      onExit(_p, code, signal) {
        if (slot.proc !== proc) return;
        slot.proc = undefined;
        if (stopping) return;
        const why = { worker: slot.index, pid: proc.pid, code: code ?? "", signal: signal ?? "" };
        if (firstStart) {
          firstStart(
            new UserError(`worker ${slot.index} exited while starting (exit code ${code ?? signal})`),
          );
          return;
        }
        const ranFor = Date.now() - slot.startedAt;
        slot.failures = ranFor >= HEALTHY_AFTER_MS ? 0 : slot.failures + 1;
        const wait =
          slot.failures === 0 ? 0 : Math.min(RESTART_MAX_MS, RESTART_MIN_MS * 2 ** (slot.failures - 1));
        log.warn("Worker exited; starting it again", { ...why, in_ms: wait });
        slot.timer = setTimeout(() => {
          if (!stopping) spawnWorker(slot);
        }, wait);
      },
    });
    slot.proc = proc;
  };

  const stopAll = async () => {
    stopping = true;
    for (const s of slots) clearTimeout(s.timer);
    const running = slots.map((s) => s.proc).filter((p): p is Subprocess => !!p);
    for (const p of running) p.kill("SIGTERM");
    const killer = setTimeout(() => {
      for (const p of running) p.kill("SIGKILL");
    }, STOP_TIMEOUT_MS);
    await Promise.all(running.map((p) => p.exited));
    clearTimeout(killer);
  };

  // Signals first: a SIGTERM while the workers start still stops them.
  let stopRequested: () => void = () => {};
  const stopSignal = new Promise<void>((resolve) => {
    stopRequested = resolve;
  });
  const onStop = () => stopRequested();
  const onHup = () => {
    for (const s of slots) s.proc?.kill("SIGHUP");
  };
  process.once("SIGINT", onStop);
  process.once("SIGTERM", onStop);
  process.on("SIGHUP", onHup);
  try {
    const started = new Promise<void>((resolve, reject) => {
      firstStart = (err) => (err ? reject(err) : resolve());
    });
    for (const s of slots) spawnWorker(s);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const outcome = await Promise.race([
      started.then(() => "started" as const),
      stopSignal.then(() => "stopped" as const),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new UserError(`workers did not start within ${START_TIMEOUT_MS / 1000} s`)),
          START_TIMEOUT_MS,
        );
      }),
    ]).finally(() => {
      clearTimeout(timer);
      firstStart = undefined;
    });
    if (outcome === "started") {
      if (cfg.diag) diag = await startPrimaryDiag(cfg.diag, slots, gatherMetrics);
      log.info("Auth service is listening", {
        cluster: prepared.clusterName,
        addr: `${cfg.listenHost}:${port}`,
        ca_pin: prepared.caPin,
        admin_identity: prepared.adminIdentity,
        admin_identity_id: prepared.adminIdentityId,
        storage: prepared.storage,
        workers: count,
        worker_pids: slots.map((s) => s.proc?.pid ?? 0).join(","),
      });
      await stopSignal;
    }
    return 0;
  } finally {
    process.off("SIGINT", onStop);
    process.off("SIGTERM", onStop);
    process.off("SIGHUP", onHup);
    diag?.stop();
    await stopAll();
  }
}

/** The primary's diagnostics listener: the workers' metrics summed; ready while every worker is. */
async function startPrimaryDiag(
  addr: { host: string; port: number },
  slots: Slot[],
  gather: () => Promise<WorkerMetrics[]>,
): Promise<DiagServer> {
  const { aggregateWorkerMetrics } = await import("./metrics/prom.ts");
  const { startAuthDiag } = await import("./metrics/diag.ts");
  let diag: DiagServer;
  try {
    diag = startAuthDiag(addr.host, addr.port, {
      render: async () => aggregateWorkerMetrics(await gather()),
      async ready() {
        const down = slots.filter((s) => !(s.proc && s.ready)).map((s) => s.index);
        if (down.length) throw connectionProblem(`not ready: worker ${down.join(", ")} not running`);
        return { status: "ready", workers: slots.length };
      },
    });
  } catch (e) {
    throw new UserError(`cannot listen on --diag-addr ${formatHostPort(addr)}: ${(e as Error).message}`);
  }
  log.info("Diagnostics are listening (plain HTTP: /metrics, /healthz, /readyz)", {
    addr: formatHostPort({ host: addr.host, port: diag.port }),
    workers: slots.length,
  });
  return diag;
}
