// SPIFFE Workload API figures (Part 10, point 3), against test/harness/workload-api.ts compiled
// with scripts/build.ts's flags (the real server module fed by a test CA):
//
//   bun bench/workload-api.ts [--renewals 50] [--streams 100] [--fanouts 10]
//
//  1. Renewal → update on an open FetchX509SVID stream: the harness issues new SVIDs, then
//     signals (`RENEWED <t>`, wall clock, sub-ms); the client prints when the new SVID arrived.
//     Median/p90/max of --renewals, for the Node 20 grpc-js client and the Python C-core one.
//  2. RSS (VmRSS of the serving process) idle, and with --streams concurrent FetchX509SVID
//     streams from one Node client process: over one connection, then over one connection each;
//     and the fan-out time: renewal signal → the last of the streams has the new SVID.
// Builds into $TBOT_DIST (default dist/) as wlapi-harness.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type Subprocess, spawn, spawnSync } from "bun";
import { Lines } from "../test/harness/workload-api.ts";
import { bin, root, summary } from "./lib.ts";

const { values: opt } = parseArgs({
  options: {
    renewals: { type: "string", default: "50" },
    streams: { type: "string", default: "100" },
    fanouts: { type: "string", default: "10" },
  },
});
const RENEWALS = Number(opt.renewals);
const STREAMS = Number(opt.streams);
const FANOUTS = Number(opt.fanouts);

const harnessBin = bin("wlapi-harness");
const t0 = performance.now();
const build = spawnSync(
  [
    process.execPath,
    "build",
    "--compile",
    "--bytecode",
    "--format=esm",
    "--minify-syntax",
    "--minify-whitespace",
    "--no-compile-autoload-dotenv",
    "--no-compile-autoload-bunfig",
    "--compile-exec-argv=--smol",
    join(root, "test/harness/workload-api.ts"),
    "--outfile",
    harnessBin,
  ],
  { cwd: root, stderr: "inherit" },
);
if (build.exitCode !== 0) throw new Error("build failed");
console.log(`built ${harnessBin} in ${Math.round(performance.now() - t0)} ms`);

const work = mkdtempSync(join(tmpdir(), "wlapi-bench-"));
const socket = join(work, "api.sock");
const h = spawn([harnessBin, "--socket", socket, "--rule", "workload.unix.uid=0:/svc/bench"], {
  stdin: "pipe",
  stdout: "pipe",
  stderr: "inherit",
});
const hout = new Lines(h.stdout);
await hout.waitFor((l) => l.startsWith("READY"), 30_000);
let seen = 0;
/** The next harness line starting with `prefix` (each line is consumed once). */
async function next(prefix: string): Promise<string> {
  const l = await hout.waitFor((x) => hout.lines.indexOf(x) >= seen && x.startsWith(prefix));
  seen = hout.lines.indexOf(l) + 1;
  return l.slice(prefix.length + 1);
}
function send(cmd: string) {
  h.stdin.write(`${cmd}\n`);
  h.stdin.flush();
}
async function rss(): Promise<number> {
  send("rss");
  return Number(await next("RSS")) / 1024;
}

function client(cmd: string[]): { proc: Subprocess<"pipe", "pipe", "inherit">; out: Lines } {
  const proc = spawn(cmd, { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  return { proc, out: new Lines(proc.stdout) };
}
const jsonLine = (out: Lines, step: string, from = 0) =>
  out
    .waitFor((l) => out.lines.indexOf(l) >= from && l.startsWith("{") && JSON.parse(l).step === step, 60_000)
    .then((l) => JSON.parse(l) as Record<string, number>);

const fmt = (s: { median: number; p90: number; max: number }) =>
  `median ${s.median.toFixed(2)} ms, p90 ${s.p90.toFixed(2)} ms, max ${s.max.toFixed(2)} ms`;

const rssIdle = await rss();
const results: [string, string][] = [];

// 1. renewal → update on one open stream, each client stack
for (const stack of ["node", "python"] as const) {
  const cmd =
    stack === "node"
      ? ["/usr/bin/node", join(root, "test/clients/node/workload-client.cjs")]
      : ["/usr/bin/python3", join(root, "test/clients/python/workload_client.py")];
  const c = client([...cmd, "--socket", socket, "--watch", String(RENEWALS)]);
  await jsonLine(c.out, "waiting");
  const deltas: number[] = [];
  for (let i = 1; i <= RENEWALS; i++) {
    send("renew");
    const at = Number(await next("RENEWED"));
    const upd = await c.out.waitFor(
      (l) => l.startsWith("{") && JSON.parse(l).step === "update" && JSON.parse(l).n === i,
    );
    deltas.push(JSON.parse(upd).t - at);
    await Bun.sleep(20);
  }
  await c.proc.exited;
  results.push([`renewal → update on an open stream, ${stack} client (${RENEWALS})`, fmt(summary(deltas))]);
}

const rssAfterClients = await rss();

// 2. N concurrent streams: RSS and fan-out
for (const connections of [1, STREAMS]) {
  const c = client([
    "/usr/bin/node",
    join(root, "test/clients/node/workload-client.cjs"),
    "--socket",
    socket,
    "--streams",
    String(STREAMS),
    "--connections",
    String(connections),
  ]);
  const up = await jsonLine(c.out, "streams");
  await Bun.sleep(1000);
  const r = await rss();
  const fan: number[] = [];
  for (let i = 1; i <= FANOUTS; i++) {
    send("renew");
    const at = Number(await next("RENEWED"));
    const u = await c.out.waitFor(
      (l) => l.startsWith("{") && JSON.parse(l).step === "streams-updated" && JSON.parse(l).n === i,
    );
    fan.push(JSON.parse(u).t - at);
    await Bun.sleep(50);
  }
  await Bun.sleep(500);
  const r2 = await rss();
  c.proc.stdin.end();
  await c.proc.exited;
  results.push([`${STREAMS} streams over ${connections} connection(s): all first messages`, `${up.ms} ms`]);
  results.push([
    `  RSS with them open (after ${FANOUTS} renewals)`,
    `${r.toFixed(1)} MiB (${r2.toFixed(1)} MiB)`,
  ]);
  results.push([`  renewal → the last of ${STREAMS} streams updated (${FANOUTS})`, fmt(summary(fan))]);
}
await Bun.sleep(500);
const rssEnd = await rss();

send("quit");
await h.exited;
rmSync(work, { recursive: true, force: true });

console.log(`\nWorkload API (${new Date().toISOString()}, Bun ${Bun.version}, compiled harness)`);
console.log(`RSS idle (listening, nothing served yet): ${rssIdle.toFixed(1)} MiB`);
console.log(`RSS after the single-stream clients: ${rssAfterClients.toFixed(1)} MiB`);
for (const [k, v] of results) console.log(`${k}: ${v}`);
console.log(`RSS after every client left: ${rssEnd.toFixed(1)} MiB`);
