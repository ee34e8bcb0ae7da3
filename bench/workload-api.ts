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
//  3. Part 2 again with `--static`: SVIDs made beforehand with openssl, so the server process
//     holds no X.509 library (the closest to tbot's own footprint until the module is wired).
// Builds into $TBOT_DIST (default dist/) as wlapi-harness.

import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
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

interface Harness {
  send(cmd: string): void;
  /** The next line starting with `prefix` (each line is consumed once), without the prefix. */
  next(prefix: string): Promise<string>;
  rss(): Promise<number>;
  quit(): Promise<void>;
}

async function startHarness(extra: string[]): Promise<Harness> {
  const h = spawn([harnessBin, "--socket", socket, "--rule", "workload.unix.uid=0:/svc/bench", ...extra], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "inherit",
  });
  const out = new Lines(h.stdout);
  await out.waitFor((l) => l.startsWith("READY"), 30_000);
  let seen = 0;
  const self: Harness = {
    send(cmd) {
      h.stdin.write(`${cmd}\n`);
      h.stdin.flush();
    },
    async next(prefix) {
      for (let i = 0; i < 3000; i++) {
        const k = out.lines.findIndex((l, j) => j >= seen && l.startsWith(prefix));
        if (k >= 0) {
          seen = k + 1;
          return (out.lines[k] as string).slice(prefix.length + 1);
        }
        await Bun.sleep(10);
      }
      throw new Error(`no ${prefix} line from the harness`);
    },
    async rss() {
      self.send("rss");
      return Number(await self.next("RSS")) / 1024;
    },
    async quit() {
      self.send("quit");
      await h.exited;
    },
  };
  return self;
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

const results: [string, string][] = [];

// 1. renewal → update on one open stream, each client stack (test CA source)
let h = await startHarness([]);
const rssIdle = await h.rss();
for (const stack of ["node", "python"] as const) {
  const cmd =
    stack === "node"
      ? ["/usr/bin/node", join(root, "test/clients/node/workload-client.cjs")]
      : ["/usr/bin/python3", join(root, "test/clients/python/workload_client.py")];
  const c = client([...cmd, "--socket", socket, "--watch", String(RENEWALS)]);
  await jsonLine(c.out, "waiting");
  const deltas: number[] = [];
  for (let i = 1; i <= RENEWALS; i++) {
    h.send("renew");
    const at = Number(await h.next("RENEWED"));
    const upd = await c.out.waitFor(
      (l) => l.startsWith("{") && JSON.parse(l).step === "update" && JSON.parse(l).n === i,
    );
    deltas.push(JSON.parse(upd).t - at);
    await Bun.sleep(20);
  }
  await c.proc.exited;
  results.push([`renewal → update on an open stream, ${stack} client (${RENEWALS})`, fmt(summary(deltas))]);
}
const rssAfterClients = await h.rss();
results.push([
  "RSS idle (listening) / after the two single-stream clients",
  `${rssIdle.toFixed(1)} MiB / ${rssAfterClients.toFixed(1)} MiB`,
]);

// 2. N concurrent streams: RSS and fan-out
async function manyStreams(label: string): Promise<void> {
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
    const r = await h.rss();
    const fan: number[] = [];
    for (let i = 1; i <= FANOUTS; i++) {
      h.send("renew");
      const at = Number(await h.next("RENEWED"));
      const u = await c.out.waitFor(
        (l) => l.startsWith("{") && JSON.parse(l).step === "streams-updated" && JSON.parse(l).n === i,
      );
      fan.push(JSON.parse(u).t - at);
      await Bun.sleep(50);
    }
    await Bun.sleep(500);
    const r2 = await h.rss();
    c.proc.stdin.end();
    await c.proc.exited;
    const p = `${label}, ${STREAMS} streams over ${connections} connection(s)`;
    results.push([`${p}: all first messages`, `${up.ms} ms`]);
    results.push([`${p}: RSS (after ${FANOUTS} renewals)`, `${r.toFixed(1)} MiB (${r2.toFixed(1)} MiB)`]);
    results.push([`${p}: renewal → last stream updated (${FANOUTS})`, fmt(summary(fan))]);
  }
  await Bun.sleep(500);
  results.push([`${label}: RSS after every client left`, `${(await h.rss()).toFixed(1)} MiB`]);
}
await manyStreams("test CA");
await h.quit();

// 3. The same with pre-made SVIDs (openssl) and no X.509 library in the server process.
const dir = join(work, "static");
mkdirSync(dir);
const sh = (cmd: string) => {
  const r = spawnSync(["sh", "-c", cmd], { cwd: dir });
  if (r.exitCode !== 0) throw new Error(`${cmd}: ${r.stderr.toString()}`);
};
sh(
  "openssl ecparam -name prime256v1 -genkey -noout -out ca.key && " +
    "openssl req -x509 -new -key ca.key -subj '/O=bench CA' -days 1 -out ca.pem " +
    "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign " +
    "-addext subjectAltName=URI:spiffe://example.org",
);
for (const n of [1, 2]) {
  sh(
    `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out svid-${n}.key && ` +
      `openssl req -new -key svid-${n}.key -subj '/O=bench' -out svid-${n}.csr && ` +
      `printf 'subjectAltName=URI:spiffe://example.org/svc/bench\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n' > ext && ` +
      `openssl x509 -req -in svid-${n}.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -extfile ext -out svid-${n}.pem`,
  );
}
h = await startHarness(["--static", dir]);
results.push(["static SVIDs: RSS idle (listening)", `${(await h.rss()).toFixed(1)} MiB`]);
const one = client([
  "/usr/bin/node",
  join(root, "test/clients/node/workload-client.cjs"),
  "--socket",
  socket,
]);
await one.proc.exited;
results.push(["static SVIDs: RSS after one full client run", `${(await h.rss()).toFixed(1)} MiB`]);
await manyStreams("static SVIDs");
await h.quit();
rmSync(work, { recursive: true, force: true });

console.log(`\nWorkload API (${new Date().toISOString()}, Bun ${Bun.version}, compiled harness)`);
for (const [k, v] of results) console.log(`${k}: ${v}`);
