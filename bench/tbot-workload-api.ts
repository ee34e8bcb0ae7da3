// The Workload API as tbot serves it (Part 10, points 3 and done-when figure): a compiled tbot
// daemon with a `workload-identity-api` service, SVIDs issued by a compiled tauth, and the
// Node 20 grpc-js client of test/clients:
//
//   TBOT_DIST=/path/to/dist bun bench/tbot-workload-api.ts [--streams 100] [--renewals 10]
//
// RSS (VmRSS of the tbot process) idle once listening, after one full client run (X.509 SVID,
// bundles, JWT fetch + validate), with --streams concurrent FetchX509SVID streams over one
// connection and then over one connection each, and after --renewals SIGHUP renewals with the
// streams open; the time from SIGHUP (the bot renews its identity at tauth, then every cached
// SVID, then pushes) to the last stream holding the new SVID. Uses the binaries in $TBOT_DIST.

import { join } from "node:path";
import { parseArgs } from "node:util";
import { type Subprocess, spawn } from "bun";
import { Lines, wallMs } from "../test/harness/workload-api.ts";
import { root, startCluster, summary } from "./lib.ts";
import { startWorkloadBot } from "./workload-bot.ts";

const { values: opt } = parseArgs({
  options: {
    streams: { type: "string", default: "100" },
    renewals: { type: "string", default: "10" },
  },
});
const STREAMS = Number(opt.streams);
const RENEWALS = Number(opt.renewals);
const nodeClient = join(root, "test/clients/node/workload-client.cjs");

const cluster = await startCluster();
const results: [string, string][] = [];
let tbot: Subprocess | undefined;
try {
  const bot = await startWorkloadBot(cluster, "wlbench");
  const proc = bot.proc;
  tbot = proc;
  const { socket, rss } = bot;
  await Bun.sleep(1000);
  results.push(["tbot RSS idle (identity, Workload API listening)", `${rss().toFixed(1)} MiB`]);
  const one = spawn(["/usr/bin/node", nodeClient, "--socket", socket], { stdout: "pipe", stderr: "inherit" });
  const oneOut = new Lines(one.stdout);
  await one.exited;
  const x509 = oneOut.lines.map((l) => JSON.parse(l)).find((s) => s.step === "x509");
  results.push([`one client run (X.509 SVID ${x509?.spiffe_ids?.[0]}): first message`, `${x509?.ms} ms`]);
  await Bun.sleep(500);
  results.push(["tbot RSS after one full client run", `${rss().toFixed(1)} MiB`]);

  for (const connections of [1, STREAMS]) {
    const c = spawn(
      [
        "/usr/bin/node",
        nodeClient,
        "--socket",
        socket,
        "--streams",
        String(STREAMS),
        "--connections",
        String(connections),
      ],
      { stdin: "pipe", stdout: "pipe", stderr: "inherit" },
    );
    const out = new Lines(c.stdout);
    const up = JSON.parse(
      await out.waitFor((l) => l.startsWith("{") && JSON.parse(l).step === "streams", 60_000),
    );
    await Bun.sleep(1000);
    const r1 = rss();
    const fan: number[] = [];
    for (let i = 1; i <= RENEWALS; i++) {
      const at = wallMs();
      process.kill(proc.pid, "SIGHUP");
      const u = await out.waitFor(
        (l) => l.startsWith("{") && JSON.parse(l).step === "streams-updated" && JSON.parse(l).n === i,
        30_000,
      );
      fan.push(JSON.parse(u).t - at);
      await Bun.sleep(200);
    }
    await Bun.sleep(500);
    const r2 = rss();
    c.stdin.end();
    await c.exited;
    const p = `${STREAMS} streams over ${connections} connection(s)`;
    results.push([`${p}: all first messages`, `${up.ms} ms`]);
    results.push([
      `${p}: tbot RSS (after ${RENEWALS} SIGHUP renewals)`,
      `${r1.toFixed(1)} MiB (${r2.toFixed(1)} MiB)`,
    ]);
    const s = summary(fan);
    results.push([
      `${p}: SIGHUP → last stream has the new SVID (${RENEWALS})`,
      `median ${s.median.toFixed(1)} ms, p90 ${s.p90.toFixed(1)} ms, max ${s.max.toFixed(1)} ms`,
    ]);
  }
  await Bun.sleep(1000);
  results.push(["tbot RSS after every client left", `${rss().toFixed(1)} MiB`]);
} finally {
  tbot?.kill("SIGTERM");
  await tbot?.exited;
  cluster.stop();
}

console.log(`\ntbot workload-identity-api (${new Date().toISOString()}, Bun ${Bun.version}, compiled tbot)`);
for (const [k, v] of results) console.log(`${k}: ${v}`);
