// Several tauth replicas (the compiled binary) on one PostgreSQL database, each with its own
// data directory, port and replica ID; optionally with a skewed clock (libfaketime), and a
// handle that goes through a load balancer. Handles have the TauthHandle shape, so the
// identity-api and bound-keypair helpers speak to a replica or to the balancer alike.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ensureBuilt, tauthBin, tctlBin } from "./binary.ts";
import type { PgServer } from "./postgres.ts";
import { freePort, run, startProcess, tempDir } from "./proc.ts";
import type { TauthHandle } from "./tauth.ts";

export const CLUSTER = "ha.test";

/**
 * Every client of a replica behind HAProxy comes from 127.0.0.1 (TCP mode, no PROXY
 * protocol): lift the per-address join rate and connection caps, as the benches do.
 */
const NO_PER_IP_LIMITS = { TAUTH_LIMITS: "join_rate=off,conns_per_ip=off" };

const FAKETIME_LIB = [
  "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
  "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
];

/** The environment that runs a process with its clock moved by `offset` (e.g. "+2h"). */
export function faketimeEnv(offset: string): Record<string, string> {
  const lib = FAKETIME_LIB.find((p) => existsSync(p));
  if (!lib) throw new Error("libfaketime is not installed (apt-get install faketime)");
  // DONT_FAKE_MONOTONIC: timers keep running on the real monotonic clock.
  return { LD_PRELOAD: lib, FAKETIME: offset, FAKETIME_DONT_FAKE_MONOTONIC: "1" };
}

export const faketimeAvailable = () => FAKETIME_LIB.some((p) => existsSync(p));

export interface Replica extends TauthHandle {
  id: string;
}

function handle(addr: string, dataDir: string, proc: TauthHandle["proc"], pin: string): TauthHandle {
  const h: TauthHandle = {
    addr,
    port: Number(addr.split(":").pop()),
    dataDir,
    identity: join(dataDir, "admin-identity"),
    clusterName: CLUSTER,
    pin,
    proc,
    auditLog() {
      return readFileSync(join(dataDir, "audit.log"), "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l));
    },
    tctl(args, stdin) {
      return run([tctlBin, "--auth-server", h.addr, "--identity", h.identity, ...args], { stdin });
    },
    stop: () => h.proc.stop(),
    restart: async () => {
      throw new Error("restart this replica with startReplica");
    },
  };
  return h;
}

/**
 * A replica on `connString`. `env` adds to its environment (faketimeEnv for a skewed clock);
 * `pin` skips asking it (a replica whose clock is behind refuses every certificate's
 * notBefore, tctl's included).
 */
export async function startReplica(o: {
  connString: string;
  id: string;
  env?: Record<string, string>;
  pin?: string;
}): Promise<Replica> {
  ensureBuilt();
  const dataDir = join(tempDir(`tauth-${o.id}-`), "data");
  const port = await freePort();
  const proc = startProcess(
    [
      tauthBin,
      "start",
      "--data-dir",
      dataDir,
      "--listen",
      `127.0.0.1:${port}`,
      "--cluster-name",
      CLUSTER,
      "--conn-string",
      o.connString,
      "--replica-id",
      o.id,
    ],
    { env: { ...NO_PER_IP_LIMITS, ...o.env } },
  );
  await proc.waitFor(/Auth service is listening/, 30_000);
  const h = handle(`127.0.0.1:${port}`, dataDir, proc, o.pin ?? "");
  if (!o.pin) {
    const status = h.tctl(["status"]);
    const m = /CA pin\s+(sha256:[0-9a-f]{64})/.exec(status.stdout);
    if (!m) throw new Error(`tctl status failed: ${status.stderr}${status.stdout}`);
    h.pin = m[1]!;
  }
  return { ...h, id: o.id };
}

/** `r`'s admin identity and data directory, spoken to at `addr` (the balancer, or another replica). */
export function via(addr: string, r: TauthHandle): TauthHandle {
  return handle(addr, r.dataDir, r.proc, r.pin);
}

/** The replica that answered a plain GET /readyz at `addr` (its X-Tauth-Replica), and the status. */
export async function readyz(addr: string): Promise<{ status: number; replica: string }> {
  try {
    const r = await fetch(`https://${addr}/readyz`, { tls: { rejectUnauthorized: false }, keepalive: false });
    await r.arrayBuffer();
    return { status: r.status, replica: r.headers.get("x-tauth-replica") ?? "" };
  } catch {
    return { status: 0, replica: "" };
  }
}

/** The tauth role's sessions on `pg` ended (pg_terminate_backend); how many. */
export function terminateTauthSessions(pg: PgServer, role = "tauth"): number {
  const out = pg.psql(
    `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = '${role}' AND pid <> pg_backend_pid()`,
  );
  return Number(out.trim());
}

/** Polls `check` every `everyMs` until it returns true; false if `timeoutMs` passes first. */
export async function eventually(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  everyMs = 100,
): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > until) return false;
    await Bun.sleep(everyMs);
  }
}

/** A PostgreSQL role and database for tauth on `pg`; the conn string for them. */
export function tauthDatabase(pg: PgServer, password: string, db = "tauth"): string {
  pg.createRole("tauth", password);
  pg.createDatabase(db, "tauth");
  return pg.url({ user: "tauth", password, database: db });
}

export { tctlBin };

/** Whether `h` refuses `bot`'s identity as locked (an authenticated GET of /v1/authorities). */
export async function deniedAsLocked(
  h: TauthHandle,
  id: { certPem: string; keyPem: string },
): Promise<boolean> {
  const { clusterApi } = await import("./identity-api.ts");
  try {
    await clusterApi(h, id).get("/v1/authorities");
    return false;
  } catch (e) {
    return /is locked/.test((e as Error).message);
  }
}
