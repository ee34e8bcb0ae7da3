// A real tauth (the compiled binary) on a loopback port and a data directory of its own.

import { join } from "node:path";
import { ensureBuilt, tauthBin, tctlBin } from "./binary.ts";
import { freePort, type Proc, type RunResult, run, startProcess, tempDir } from "./proc.ts";

export interface TauthHandle {
  addr: string;
  port: number;
  dataDir: string;
  identity: string;
  clusterName: string;
  pin: string;
  proc: Proc;
  auditLog(): { event: string; [k: string]: unknown }[];
  tctl(args: string[], stdin?: string): RunResult;
  stop(): Promise<number>;
  restart(): Promise<void>;
}

export async function startTauth(
  opts: { clusterName?: string; dataDir?: string; port?: number; extraArgs?: string[] } = {},
): Promise<TauthHandle> {
  ensureBuilt();
  const dataDir = opts.dataDir ?? join(tempDir("tauth-"), "data");
  const port = opts.port ?? (await freePort());
  const clusterName = opts.clusterName ?? "example.test";
  const launch = async () => {
    const p = startProcess([
      tauthBin,
      "start",
      "--data-dir",
      dataDir,
      "--listen",
      `127.0.0.1:${port}`,
      "--cluster-name",
      clusterName,
      ...(opts.extraArgs ?? []),
    ]);
    await p.waitFor(/Auth service is listening/);
    return p;
  };
  const h: TauthHandle = {
    addr: `127.0.0.1:${port}`,
    port,
    dataDir,
    identity: join(dataDir, "admin-identity"),
    clusterName,
    pin: "",
    proc: await launch(),
    auditLog() {
      const text = require("node:fs").readFileSync(join(dataDir, "audit.log"), "utf8") as string;
      return text
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l));
    },
    tctl(args, stdin) {
      return run([tctlBin, "--auth-server", h.addr, "--identity", h.identity, ...args], { stdin });
    },
    stop() {
      return h.proc.stop();
    },
    async restart() {
      await h.proc.stop();
      h.proc = await launch();
    },
  };
  const status = h.tctl(["status"]);
  const m = /CA pin\s+(sha256:[0-9a-f]{64})/.exec(status.stdout);
  if (!m) throw new Error(`tctl status failed: ${status.stderr}${status.stdout}`);
  h.pin = m[1]!;
  return h;
}
