// Processes started by tests: tracked by PID and stopped when the test file ends, even if a
// test fails midway. Output is captured for assertions and failure messages.

import { afterAll } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Subprocess, spawn, spawnSync } from "bun";

const started = new Set<Subprocess>();
const dirs: string[] = [];

/**
 * Stop (by PID) every process and remove every directory started so far. bun test evaluates
 * this module once per run, so a hook registered here at import would serve only the first
 * test file: each e2e file calls this at its top level instead. Files run one after another,
 * so "so far" is that file's own.
 */
export function cleanupAfterFile(): void {
  afterAll(async () => {
    for (const p of started) {
      try {
        process.kill(p.pid, "SIGKILL");
      } catch {}
    }
    await Promise.all([...started].map((p) => p.exited.catch(() => {})));
    started.clear();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
}

export function tempDir(prefix = "e2e-"): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

/** A free TCP port on loopback (bind to 0, read, close). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export interface Proc {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  output(): string;
  /** Resolves when the combined output matches, rejects on exit or timeout. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  stop(signal?: NodeJS.Signals): Promise<number>;
  pid: number;
}

export function startProcess(cmd: string[], opts: { env?: Record<string, string>; cwd?: string } = {}): Proc {
  const proc = spawn(cmd, {
    env: { ...process.env, ...opts.env },
    cwd: opts.cwd,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  started.add(proc);
  let out = "";
  const waiters: (() => void)[] = [];
  const pump = async (s: ReadableStream<Uint8Array>) => {
    const dec = new TextDecoder();
    for await (const chunk of s) {
      out += dec.decode(chunk);
      for (const w of waiters) w();
    }
  };
  pump(proc.stdout);
  pump(proc.stderr);
  proc.exited.then(() => {
    started.delete(proc);
    for (const w of waiters) w();
  });
  return {
    proc,
    pid: proc.pid,
    output: () => out,
    waitFor(re, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`timeout waiting for ${re} in output of ${cmd[0]}:\n${out}`)),
          timeoutMs,
        );
        const check = () => {
          const m = re.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(m[0]);
          } else if (proc.exitCode !== null || proc.signalCode !== null) {
            clearTimeout(timer);
            reject(new Error(`${cmd[0]} exited (${proc.exitCode ?? proc.signalCode}) before ${re}:\n${out}`));
          }
        };
        waiters.push(check);
        check();
      });
    },
    async stop(signal = "SIGTERM") {
      try {
        process.kill(proc.pid, signal);
      } catch {}
      return proc.exited;
    },
  };
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(
  cmd: string[],
  opts: { env?: Record<string, string>; cwd?: string; stdin?: string } = {},
): RunResult {
  const r = spawnSync(cmd, {
    env: { ...process.env, ...opts.env },
    cwd: opts.cwd,
    stdin: opts.stdin === undefined ? "ignore" : new TextEncoder().encode(opts.stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}
