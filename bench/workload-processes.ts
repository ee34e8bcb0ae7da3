// Many processes of one uid at a tbot's Workload API: what tauth issues for them. A compiled tauth
// and tbot daemon (`workload-identity-api`, an identity templated on workload.unix.uid only),
// then N separate Node 20 grpc-js client processes (test/clients), `--parallel` at a time, each
// running the full flow (X.509 SVID, bundles, JWT fetch and validate) as root. Reported: the SVIDs
// tauth issued for them (its audit log: spiffe.svid.issued, X.509 and JWT), the distinct X.509
// serials the clients received, the wall time for all N, and tbot's VmRSS after them.
//
//   TBOT_DIST=/path/to/dist bun bench/workload-processes.ts [--processes 200] [--parallel 10]
//
// No build is made here: build first (scripts/build.ts honours TBOT_DIST).

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type Subprocess, spawn } from "bun";
import { Lines } from "../test/harness/workload-api.ts";
import { bin, root, startCluster } from "./lib.ts";
import { startWorkloadBot } from "./workload-bot.ts";

const { values: opt } = parseArgs({
  options: {
    processes: { type: "string", default: "200" },
    parallel: { type: "string", default: "10" },
  },
});
const PROCESSES = Number(opt.processes);
const PARALLEL = Number(opt.parallel);
const nodeClient = join(root, "test/clients/node/workload-client.cjs");

const cluster = await startCluster();
let tbot: Subprocess | undefined;
try {
  const bot = await startWorkloadBot(cluster, "wlproc");
  tbot = bot.proc;
  const socket = bot.socket;
  const issued = () => {
    const events = JSON.parse(
      cluster.tctl(["audit", "ls", "--kind=spiffe.svid.issued", "--format=json", "--since=1h"]),
    ) as { kind?: string }[];
    return {
      x509: events.filter((e) => e.kind === "x509").length,
      jwt: events.filter((e) => e.kind === "jwt").length,
    };
  };
  const before = issued();
  const serials = new Set<string>();
  let failed = 0;
  const one = async () => {
    const c = spawn(["/usr/bin/node", nodeClient, "--socket", socket], { stdout: "pipe", stderr: "ignore" });
    const out = new Lines(c.stdout);
    await c.exited;
    const x509 = out.lines.map((l) => JSON.parse(l)).find((s) => s.step === "x509");
    if (!x509 || x509.error) failed++;
    else serials.add(String(x509.serial));
  };
  const t0 = performance.now();
  for (let i = 0; i < PROCESSES; i += PARALLEL)
    await Promise.all(Array.from({ length: Math.min(PARALLEL, PROCESSES - i) }, one));
  const wall = performance.now() - t0;
  const after = issued();
  const rss = bot.rss();
  const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  console.log(`\n${new Date().toISOString()}, load average ${load}, tbot ${bin("tbot")}\n`);
  console.log("| figure | value |\n| --- | --- |");
  console.log(`| client processes (uid 0), ${PARALLEL} at a time | ${PROCESSES} (${failed} failed) |`);
  console.log(`| X.509 SVIDs tauth issued for them | ${after.x509 - before.x509} |`);
  console.log(`| JWT SVIDs tauth issued for them | ${after.jwt - before.jwt} |`);
  console.log(`| distinct X.509 serials the clients received | ${serials.size} |`);
  console.log(`| wall time for all of them | ${(wall / 1000).toFixed(1)} s |`);
  console.log(`| tbot VmRSS after them | ${rss.toFixed(1)} MiB |`);
} finally {
  tbot?.kill();
  cluster.stop();
}
