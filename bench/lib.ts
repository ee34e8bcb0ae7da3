// Shared bench plumbing: a compiled tauth on a free loopback port, tctl, stats. Benches are
// never tests: they print figures and exit; they stop every process they start.

import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Subprocess, spawn, spawnSync } from "bun";
import type { Backend } from "../src/auth/backend/backend.ts";

export const root = join(import.meta.dir, "..");
export const bin = (name: string) => join(process.env.TBOT_DIST || join(root, "dist"), name);

export function ensureBuilt(): void {
  const r = spawnSync([process.execPath, join(root, "scripts/build.ts")], {
    stdout: "ignore",
    stderr: "inherit",
  });
  if (r.exitCode !== 0) throw new Error("build failed");
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => resolve(typeof a === "object" && a ? a.port : 0));
    });
  });
}

export interface Cluster {
  addr: string;
  dir: string;
  pin: string;
  identity: string;
  tctl(args: string[]): string;
  stop(): void;
}

/**
 * `ownBinary`: tauth runs from a copy of the binary, so that no page of it is shared with the tbot
 * under test. A deployed tbot has no tauth beside it; with the same file mapped by both, the
 * kernel keeps the shared pages of tbot's binary resident (see src/agent/startup-pages.ts).
 */
export async function startCluster(opts: { ownBinary?: boolean } = {}): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), "bench-"));
  const port = await freePort();
  const addr = `127.0.0.1:${port}`;
  let tauth = bin("tauth");
  if (opts.ownBinary) {
    mkdirSync(join(dir, "bin"));
    tauth = join(dir, "bin", "tauth");
    copyFileSync(bin("tauth"), tauth);
  }
  const proc: Subprocess = spawn(
    [tauth, "start", "--data-dir", join(dir, "auth"), "--listen", addr, "--cluster-name", "bench.test"],
    // Every bench client comes from 127.0.0.1; real fleets come from many addresses. Lift the
    // per-address join rate and connection caps so the figures measure the server, not them.
    {
      stdout: "ignore",
      stderr: "pipe",
      env: { ...process.env, TAUTH_LIMITS: "join_rate=off,conns_per_ip=off" },
    },
  );
  const dec = new TextDecoder();
  let log = "";
  for await (const c of proc.stderr as ReadableStream<Uint8Array>) {
    log += dec.decode(c);
    if (log.includes("Auth service is listening")) break;
  }
  const identity = join(dir, "auth", "admin-identity");
  const tctl = (args: string[]) => {
    const r = spawnSync([bin("tctl"), "--auth-server", addr, "--identity", identity, ...args]);
    if (r.exitCode !== 0) throw new Error(`tctl ${args.join(" ")}: ${r.stderr}`);
    return r.stdout.toString();
  };
  const pin = /CA pin\s+(\S+)/.exec(tctl(["status"]))![1]!;
  return {
    addr,
    dir,
    pin,
    identity,
    tctl,
    stop() {
      proc.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function summary(values: number[]): {
  median: number;
  p90: number;
  p99: number;
  min: number;
  max: number;
} {
  const s = [...values].sort((a, b) => a - b);
  return {
    median: percentile(s, 50),
    p90: percentile(s, 90),
    p99: percentile(s, 99),
    min: s[0]!,
    max: s[s.length - 1]!,
  };
}

export const ms = (x: number) => `${x.toFixed(1)} ms`;

/**
 * `n` renewal-like writes over `keys` in turn (get, then compare-and-swap with the expiry moved
 * on, as a renewal updates its instance), one at a time: microseconds per write.
 */
export async function renewalWrites(backend: Backend, keys: string[], n: number): Promise<number> {
  const t = performance.now();
  for (let i = 0; i < n; i++) {
    const key = keys[i % keys.length]!;
    const cur = (await backend.get(key))!;
    await backend.compareAndSwap(cur.revision, {
      key,
      value: cur.value,
      expires: new Date(Date.now() + 86_400_000 + i),
    });
  }
  return ((performance.now() - t) * 1000) / n;
}
