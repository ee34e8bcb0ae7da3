// The two Workload API client stacks the SPIFFE e2e files drive: Node 20 + @grpc/grpc-js
// (test/clients/node, run with /usr/bin/node) and Debian's python3-grpcio (test/clients/python,
// run with /usr/bin/python3). A client prints one JSON line a step; it runs as root or, with
// setpriv, as one of the local users made here so that the unix attestor's uid decides.

import { afterAll, beforeAll } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Subprocess, spawn, spawnSync } from "bun";
import { Lines } from "./workload-api.ts";

const root = join(import.meta.dir, "..", "..");
export const NODE = "/usr/bin/node";
export const PYTHON = "/usr/bin/python3";
const nodeClient = join(root, "test/clients/node/workload-client.cjs");
const pyClient = join(root, "test/clients/python/workload_client.py");

export type Step = Record<string, unknown> & { step: string };

export interface ClientRun {
  out: Lines;
  proc: Subprocess<"ignore", "pipe", "pipe">;
  /** The steps printed so far. */
  steps(): Step[];
  /** The first step named `name`, once printed (Lines.waitFor's 20 s at most). */
  step(name: string): Promise<Step>;
  /** Every step, after the client exited 0 (else an error with its stderr and output). */
  done(): Promise<Step[]>;
}

/**
 * A client of `stack` on `socket`, as `uid` (also its gid) when given; `out`: where it writes
 * the SVID and bundle; `watch`: how many updates of the X.509 stream it waits for.
 */
export function runWorkloadClient(
  stack: "node" | "python",
  socket: string,
  opts: { uid?: number; out?: string; watch?: number } = {},
): ClientRun {
  const base =
    stack === "node" ? [NODE, nodeClient, "--socket", socket] : [PYTHON, pyClient, "--socket", socket];
  if (opts.out) base.push("--out", opts.out);
  if (opts.watch) base.push("--watch", String(opts.watch));
  const cmd =
    opts.uid !== undefined
      ? ["setpriv", `--reuid=${opts.uid}`, `--regid=${opts.uid}`, "--clear-groups", ...base]
      : base;
  const proc = spawn(cmd, {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    cwd: "/",
    env: { PATH: "/usr/bin:/bin", HOME: "/tmp" },
  });
  const out = new Lines(proc.stdout);
  const steps = () => out.lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Step);
  return {
    out,
    proc,
    steps,
    async step(name: string) {
      const l = await out.waitFor((x) => x.startsWith("{") && (JSON.parse(x) as Step).step === name);
      return JSON.parse(l) as Step;
    },
    async done() {
      const code = await proc.exited;
      if (code !== 0) {
        const err = await new Response(proc.stderr).text();
        throw new Error(`${stack} client exited ${code}: ${err}\n${out.lines.join("\n")}`);
      }
      await Bun.sleep(50);
      return steps();
    },
  };
}

/** The uid of a local user, -1 if there is none. */
export function uidOf(name: string): number {
  const r = spawnSync(["id", "-u", name]);
  return r.exitCode === 0 ? Number(r.stdout.toString().trim()) : -1;
}

/**
 * System users (no home, nologin) for this file: made with useradd where absent by a beforeAll
 * registered here (call this at the top level, before the file's own beforeAll that needs
 * them), removed with userdel after the file. Their uids by name, filled in by that beforeAll.
 */
export function localUsers(names: readonly string[]): Record<string, number> {
  const uids: Record<string, number> = {};
  beforeAll(() => {
    for (const u of names) {
      if (uidOf(u) < 0) {
        const r = spawnSync(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", u]);
        if (r.exitCode !== 0) throw new Error(`useradd ${u}: ${r.stderr.toString()}`);
      }
      uids[u] = uidOf(u);
    }
  });
  afterAll(() => {
    for (const u of names) spawnSync(["userdel", u]);
  });
  return uids;
}

/** Makes each directory (with its parents) and gives it to that uid (as uid:uid). */
export function dirsOwnedBy(dirs: readonly (readonly [string, number])[]): void {
  for (const [d, u] of dirs) {
    mkdirSync(d, { recursive: true });
    spawnSync(["chown", `${u}:${u}`, d]);
  }
}
