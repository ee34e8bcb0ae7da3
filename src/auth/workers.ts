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

import { createServer } from "node:net";
import { availableParallelism } from "node:os";
import type { Subprocess } from "bun";
import { UserError } from "../util/errors.ts";
import { logger } from "../util/log.ts";
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
  let firstStart: ((err?: Error) => void) | undefined;
  const slots: Slot[] = Array.from({ length: count }, (_, index) => ({
    index,
    startedAt: 0,
    failures: 0,
    ready: false,
  }));

  const spawnWorker = (slot: Slot) => {
    slot.ready = false;
    slot.startedAt = Date.now();
    const proc = Bun.spawn(cmd, {
      argv0,
      env: { ...process.env, [WORKER_ENV]: String(slot.index), [WORKER_PORT_ENV]: String(port) },
      stdio: ["ignore", "inherit", "inherit"],
      ipc(message) {
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
    await stopAll();
  }
}
