// HAProxy in front of tauth replicas, as an operator would run it: TCP mode (TLS and client
// certificates pass through to tauth untouched), round robin, and a health check that asks
// each replica's /readyz over TLS, so a replica that cannot reach its database is taken out
// of rotation. The configuration is written to a temporary directory and HAProxy runs in the
// foreground (-db), stopped by PID. A stats socket lets a test see which servers are up.

import { existsSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { freePort, type Proc, startProcess, tempDir } from "./proc.ts";

export const HAPROXY = "/usr/sbin/haproxy";
export const haproxyAvailable = () => existsSync(HAPROXY);

export interface Backend {
  name: string;
  port: number;
}

export interface HaproxyHandle {
  port: number;
  /** host:port clients use. */
  addr: string;
  cfgPath: string;
  cfg: string;
  proc: Proc;
  /** Each server's state as HAProxy sees it (UP, DOWN, ...), from the stats socket. */
  states(): Promise<Record<string, string>>;
  /** Resolves once every named server (all when none named) is in `state`; rejects after timeoutMs. */
  waitFor(state: "UP" | "DOWN", names?: string[], timeoutMs?: number): Promise<void>;
  stop(): Promise<number>;
}

/**
 * The configuration (documented in the README as the one to start from). `inter 1s fall 2
 * rise 1`: a replica is out after two failed checks (~2 s) and back after one good one.
 * `timeout check 3s` is above tauth's own 2 s /readyz deadline, so a slow database reads as
 * a 503, not as a check timeout. `option redispatch` with `retries`: a connection refused by
 * a replica that just died is retried on another.
 */
export function haproxyConfig(port: number, backends: Backend[], statsSocket: string): string {
  return [
    "global",
    "  log stderr format raw daemon notice",
    "  maxconn 4096",
    `  stats socket ${statsSocket} mode 600 level admin`,
    "",
    "defaults",
    "  log global",
    "  mode tcp",
    "  timeout connect 2s",
    "  timeout client 60s",
    "  timeout server 60s",
    "  timeout check 3s",
    "  retries 2",
    "  option redispatch",
    "",
    "frontend tauth",
    `  bind 127.0.0.1:${port}`,
    "  default_backend tauth_replicas",
    "",
    "backend tauth_replicas",
    "  balance roundrobin",
    "  option httpchk GET /readyz",
    "  http-check expect status 200",
    // Every change of a check's result in HAProxy's output (the test's failure message).
    "  option log-health-checks",
    "  default-server check check-ssl verify none inter 1s fall 2 rise 1",
    ...backends.map((b) => `  server ${b.name} 127.0.0.1:${b.port}`),
    "",
  ].join("\n");
}

function statsCommand(socket: string, cmd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = "";
    const s = connect(socket, () => s.write(`${cmd}\n`));
    s.on("data", (d) => {
      out += d.toString();
    });
    s.on("end", () => resolve(out));
    s.on("error", reject);
  });
}

export async function startHaproxy(backends: Backend[]): Promise<HaproxyHandle> {
  const dir = tempDir("haproxy-");
  const port = await freePort();
  const statsSocket = join(dir, "stats.sock");
  const cfg = haproxyConfig(port, backends, statsSocket);
  const cfgPath = join(dir, "haproxy.cfg");
  writeFileSync(cfgPath, cfg);
  const proc = startProcess([HAPROXY, "-f", cfgPath, "-db"]);
  const h: HaproxyHandle = {
    port,
    addr: `127.0.0.1:${port}`,
    cfgPath,
    cfg,
    proc,
    async states() {
      // "show stat" is CSV: # pxname,svname,...,status (column 18),...
      const csv = await statsCommand(statsSocket, "show stat");
      const out: Record<string, string> = {};
      for (const line of csv.split("\n")) {
        const f = line.split(",");
        if (f[0] === "tauth_replicas" && f[1] && f[1] !== "BACKEND") out[f[1]] = f[17] ?? "";
      }
      return out;
    },
    async waitFor(state, names = backends.map((b) => b.name), timeoutMs = 15_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const s = await h.states().catch(() => ({}) as Record<string, string>);
        // "UP 1/2" is on its way (a check still to pass, or one failed): not there yet.
        if (names.every((n) => s[n] === state)) return;
        if (Date.now() > until)
          throw new Error(
            `HAProxy servers not ${state} after ${timeoutMs} ms: ${JSON.stringify(s)}\n${proc.output()}`,
          );
        await Bun.sleep(100);
      }
    },
    stop: () => proc.stop(),
  };
  // Up once the stats socket answers (the frontend is bound before it).
  const until = Date.now() + 10_000;
  while (!(await statsCommand(statsSocket, "show info").catch(() => ""))) {
    if (proc.proc.exitCode !== null) throw new Error(`haproxy exited:\n${proc.output()}`);
    if (Date.now() > until) throw new Error(`haproxy did not start:\n${proc.output()}`);
    await Bun.sleep(50);
  }
  return h;
}
