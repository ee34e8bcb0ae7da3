// Small helpers shared by the agent and tctl end-to-end tests: bots and tokens through tctl,
// tbot runs with the legacy flags, environment control, polling, and error-line checks.

import { afterAll, expect } from "bun:test";
import { createHash } from "node:crypto";
import { chmodSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { tbotBin } from "./binary.ts";
import { type Proc, type RunResult, run, tempDir } from "./proc.ts";
import { startTauth, type TauthHandle } from "./tauth.ts";

/**
 * What one test file starts, stopped by PID (and its directories removed) after that file.
 * proc.ts registers its afterAll when it is first imported, and bun test evaluates a module
 * once per run: in a multi-file run (scripts/test.ts) only the first file that imports it gets
 * that cleanup. Call this at the top level of a file; wrap what the file starts.
 */
export function fileScope() {
  const procs: Proc[] = [];
  const tauths: TauthHandle[] = [];
  const dirs: string[] = [];
  afterAll(async () => {
    const live = [...procs, ...tauths.map((h) => h.proc)].filter(
      (p) => p.proc.exitCode === null && p.proc.signalCode === null,
    );
    for (const p of live) {
      try {
        process.kill(p.pid, "SIGKILL");
      } catch {}
    }
    await Promise.all(live.map((p) => p.proc.exited.catch(() => {})));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  return {
    proc(p: Proc): Proc {
      procs.push(p);
      return p;
    },
    async tauth(opts?: Parameters<typeof startTauth>[0]): Promise<TauthHandle> {
      const h = await startTauth(opts);
      tauths.push(h);
      if (!opts?.dataDir) dirs.push(dirname(h.dataDir));
      return h;
    },
    tempDir(prefix: string): string {
      const d = tempDir(prefix);
      dirs.push(d);
      return d;
    },
  };
}

export type FileScope = ReturnType<typeof fileScope>;

/** `tctl ARGS` that must succeed: its stdout (else an error with the exit code and output). */
export function tctlOk(h: TauthHandle, args: string[]): string {
  const r = h.tctl(args);
  if (r.code !== 0) throw new Error(`tctl ${args.join(" ")} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/**
 * A tauth of this file's `scope` (started with `tauth`'s options) and then a work directory of
 * its own (`prefix`); with `resources`, that YAML text is created there by `tctl create`.
 * `worldReadable`: the directory is 0755, for tests that reach it as another user.
 */
export async function tauthAndWorkDir(
  scope: FileScope,
  o: {
    prefix: string;
    tauth?: Parameters<typeof startTauth>[0];
    resources?: string;
    worldReadable?: boolean;
  },
): Promise<{ auth: TauthHandle; work: string }> {
  const auth = await scope.tauth(o.tauth);
  const work = scope.tempDir(o.prefix);
  if (o.worldReadable) chmodSync(work, 0o755);
  if (o.resources !== undefined)
    tctlOk(auth, ["create", writeText(join(work, "resources.yaml"), o.resources)]);
  return { auth, work };
}

/** `tctl bots add NAME` and the join token it printed. */
export function addBot(h: TauthHandle, name: string, roles = "access", logins = "root"): string {
  const r = h.tctl(["bots", "add", name, `--roles=${roles}`, `--logins=${logins}`, "--format=json"]);
  if (r.code !== 0) throw new Error(`tctl bots add ${name} failed: ${r.stderr}`);
  return JSON.parse(r.stdout).token_id as string;
}

/** A fresh join token for an existing bot (`tctl bots instances add BOT --format=json`). */
export function newToken(h: TauthHandle, bot: string): string {
  const r = h.tctl(["bots", "instances", "add", bot, "--format=json"]);
  if (r.code !== 0) throw new Error(`tctl bots instances add ${bot} failed: ${r.stderr}`);
  return JSON.parse(r.stdout).token_name as string;
}

/** Instance ids of a bot, from `tctl bots instances ls BOT --format=json`. */
export function instanceIds(h: TauthHandle, bot: string): string[] {
  const r = h.tctl(["bots", "instances", "ls", bot, "--format=json"]);
  if (r.code !== 0) throw new Error(`tctl bots instances ls failed: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { spec: { bot_name: string; instance_id: string } }[])
    .filter((i) => i.spec.bot_name === bot)
    .map((i) => i.spec.instance_id);
}

/** How tctl lists a secret token: sha256: and the first 16 hex digits of its hash. */
export function maskedToken(token: string): string {
  return `sha256:${createHash("sha256").update(token).digest("hex").slice(0, 16)}`;
}

/** `tbot start` with the legacy flags: token join to `h` with its CA pin unless `trust` says otherwise. */
export function legacyArgs(
  h: TauthHandle,
  o: { data: string; dest: string; token: string; trust?: string[]; extra?: string[] },
): string[] {
  return [
    tbotBin,
    "start",
    "--data-dir",
    o.data,
    "--destination-dir",
    o.dest,
    "--token",
    o.token,
    "--join-method",
    "token",
    "--auth-server",
    h.addr,
    ...(o.trust ?? ["--ca-pin", h.pin]),
    ...(o.extra ?? []),
  ];
}

export function oneShot(
  h: TauthHandle,
  o: { data: string; dest: string; token: string; trust?: string[]; extra?: string[] },
): RunResult {
  return run([...legacyArgs(h, o), "--oneshot"]);
}

/**
 * The environment of this test process without the variables that add TLS trust, so a
 * "no trust configured" case cannot pass or fail because of the machine it runs on.
 */
export function envWithoutTrust(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !["SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS"].includes(k)) env[k] = v;
  return { ...env, ...extra };
}

/** Like run(), but with exactly `env` (nothing inherited). */
export function runExactEnv(cmd: string[], env: Record<string, string>): RunResult {
  const r = Bun.spawnSync(cmd, { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** Exit 1 and stderr is exactly one line "ERROR: …" without a stack trace; returns that line. */
export function expectOneErrorLine(r: RunResult): string {
  expect(r.code).toBe(1);
  const lines = r.stderr.trimEnd().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]!.startsWith("ERROR: ")).toBe(true);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  return lines[0]!;
}

/**
 * A tbot one-shot that failed on an output: exit 1, exactly one `ERROR: output failed: <name>: …`
 * line (other lines, such as the INFO line of the join, may come before it), no stack trace;
 * returns that line.
 */
export function outputFailed(r: RunResult, name: string): string {
  expect(r.code).toBe(1);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  const errors = r.stderr.split("\n").filter((l) => l.startsWith("ERROR: "));
  expect(errors).toHaveLength(1);
  expect(errors[0]!.startsWith(`ERROR: output failed: ${name}: `)).toBe(true);
  return errors[0]!;
}

/** Polls `cond` every 50 ms until it holds; throws with `what` after `timeoutMs`. */
export async function until(cond: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timeout waiting for ${what}`);
    await Bun.sleep(50);
  }
}

export function count(re: RegExp, text: string): number {
  return (text.match(new RegExp(re.source, re.flags.includes("g") ? re.flags : `${re.flags}g`)) ?? []).length;
}

/** YAML documents (each ending in a newline) as one multi-document text. */
export const yamlDocs = (...docs: string[]): string => docs.join("---\n");

export function writeText(path: string, text: string): string {
  writeFileSync(path, text);
  return path;
}

/** run() with a deadline: a command that should fail fast cannot hang the file if it does not. */
export function runWithTimeout(cmd: string[], timeoutMs = 20_000): RunResult {
  const r = Bun.spawnSync(cmd, { stdin: "ignore", stdout: "pipe", stderr: "pipe", timeout: timeoutMs });
  return { code: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** fetch that retries while the listener is not up yet (connection refused). */
export async function fetchWhenUp(url: string, timeoutMs = 10_000): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fetch(url);
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await Bun.sleep(50);
    }
  }
}
