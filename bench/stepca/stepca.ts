// A step-ca of our own for bench/renewal.ts: a fresh PKI, configuration and N client
// identities (`step-ca bench-init`, stepca-main/init.go), the CA on a free loopback port
// with a badger database, its log in its directory; stopped with SIGTERM.

import { join } from "node:path";
import { type Subprocess, spawn, spawnSync } from "bun";
import { freePort } from "../lib.ts";

export interface StepCa {
  addr: string;
  pid: number;
  caFile: string;
  idsFile: string;
  stop(): Promise<void>;
}

export async function startStepCa(tools: { stepCa: string }, dir: string, clients: number): Promise<StepCa> {
  const port = await freePort();
  const addr = `127.0.0.1:${port}`;
  const init = spawnSync([tools.stepCa, "bench-init", dir, String(clients)], {
    env: { ...process.env, STEPCA_ADDR: addr },
    stderr: "pipe",
  });
  if (init.exitCode !== 0) throw new Error(`step-ca bench-init: ${init.stderr}`);
  const proc: Subprocess = spawn(
    [tools.stepCa, "--password-file", join(dir, "password"), join(dir, "ca.json")],
    { stdout: Bun.file(join(dir, "stdout.log")), stderr: Bun.file(join(dir, "stderr.log")) },
  );
  // Ready when it answers /health.
  const until = Date.now() + 30_000;
  for (;;) {
    const ok = await fetch(`https://${addr}/health`, { tls: { rejectUnauthorized: false } })
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) break;
    if (proc.exitCode !== null || Date.now() > until)
      throw new Error(`step-ca did not start; see ${join(dir, "stderr.log")}`);
    await Bun.sleep(100);
  }
  return {
    addr,
    pid: proc.pid,
    caFile: join(dir, "root_ca.crt"),
    idsFile: join(dir, "ids.json"),
    async stop() {
      proc.kill("SIGTERM");
      await proc.exited;
    },
  };
}
