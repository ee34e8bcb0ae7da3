// An output's reload hook (`exec`): an argv run after each successful write, without a shell,
// in its own process group, with a minimal environment and a timeout. What it prints is kept
// (truncated) for the log; its failure never undoes the write.

import { spawn } from "node:child_process";

export const defaultExecTimeoutMs = 30_000;
/** Bytes of stdout and of stderr kept from one run; the rest is counted, not kept. */
const KEEP_BYTES = 4096;
/** Characters of each stream shown in the log. */
export const LOG_CHARS = 512;
/** Used when tbot itself has no PATH (systemd gives one; an empty environment may not). */
const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export type ExecOutcome = "ok" | "failed" | "timeout";

export interface ExecResult {
  outcome: ExecOutcome;
  /** The exit status, or null when killed by a signal or not started. */
  code: number | null;
  signal: string | null;
  durationMs: number;
  stdout: string;
  stderr: string;
  /** Why it did not start (ENOENT, EACCES…), when it did not. */
  startError?: string;
}

export interface ExecOptions {
  timeoutMs: number;
  env: Record<string, string>;
}

/** The environment an exec sees: PATH and the output's name, type and directory. */
export function execEnvironment(o: { name: string; type: string; dir?: string }): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH || DEFAULT_PATH,
    TBOT_OUTPUT_NAME: o.name,
    TBOT_OUTPUT_TYPE: o.type,
  };
  if (o.dir !== undefined) env.TBOT_OUTPUT_DIR = o.dir;
  return env;
}

export function runExec(argv: readonly string[], opts: ExecOptions): Promise<ExecResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    let child: ReturnType<typeof spawn>;
    const out = new Kept();
    const err = new Kept();
    let timedOut = false;
    let settled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const finish = (r: Omit<ExecResult, "durationMs" | "stdout" | "stderr">) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...r, durationMs: Date.now() - started, stdout: out.text(), stderr: err.text() });
    };
    try {
      // detached: a new session and process group, so a timeout kills what it started too.
      child = spawn(argv[0]!, argv.slice(1), {
        env: opts.env,
        stdio: ["ignore", "pipe", "pipe"],
        detached: true,
      });
    } catch (e) {
      finish({ outcome: "failed", code: null, signal: null, startError: (e as Error).message });
      return;
    }
    timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
    }, opts.timeoutMs);
    child.stdout?.on("data", (b: Buffer) => out.add(b));
    child.stderr?.on("data", (b: Buffer) => err.add(b));
    child.on("error", (e) => finish({ outcome: "failed", code: null, signal: null, startError: e.message }));
    child.on("exit", (code, signal) => {
      // Whatever is left in the pipes arrives before "close"; a grandchild that keeps them
      // open must not hold the output's loop, so wait for it only briefly.
      const done = () =>
        finish({
          outcome: timedOut ? "timeout" : code === 0 ? "ok" : "failed",
          code,
          signal: signal ?? null,
        });
      const grace = setTimeout(done, 500);
      child.on("close", () => {
        clearTimeout(grace);
        done();
      });
    });
  });
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
}

class Kept {
  private chunks: Buffer[] = [];
  private size = 0;
  private dropped = 0;
  add(b: Buffer): void {
    const room = KEEP_BYTES - this.size;
    if (room > 0) {
      const part = b.subarray(0, room);
      this.chunks.push(part);
      this.size += part.length;
    }
    this.dropped += Math.max(0, b.length - Math.max(room, 0));
  }
  text(): string {
    const s = Buffer.concat(this.chunks).toString("utf8");
    return this.dropped > 0 ? `${s}…[${this.dropped} more bytes]` : s;
  }
}

/** One line for logs and /readyz: what ran and how it ended. */
export function describeExec(argv: readonly string[], r: ExecResult, timeoutMs: number): string {
  const what = argv[0] ?? "";
  if (r.startError !== undefined) return `exec ${what} could not start: ${r.startError}`;
  if (r.outcome === "timeout") return `exec ${what} timed out after ${timeoutMs}ms and was killed`;
  if (r.code !== null) return `exec ${what} exited with status ${r.code}`;
  return `exec ${what} was killed by ${r.signal}`;
}

/** A stream's text for a log line: trimmed and cut to LOG_CHARS. */
export function forLog(s: string): string | undefined {
  const t = s.trim();
  if (t === "") return undefined;
  return t.length > LOG_CHARS ? `${t.slice(0, LOG_CHARS)}…` : t;
}
