// Figures for issue Part 11 (diagnostics): tbot daemon RSS after 10 renewals with diag_addr off
// and on (on: /metrics scraped after every renewal, so prom-client and its collectors have
// run), and one-shot token join + identity output wall time, for this build and others (the
// commit before prom-client; the same commit with the metrics change reverted), interleaved
// run by run so drift on a shared machine hits every build alike.
//   TBOT_DIST=/path/to/dist bun bench/tbot-rss.ts --baseline /path/to/baseline-dist \
//     [--build LABEL=DIST]... [--runs 20] [--rounds 3]
// No build is made here: build each first (scripts/build.ts honours TBOT_DIST).

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { spawn, spawnSync } from "bun";
import { bin, freePort, ms, startCluster, summary } from "./lib.ts";

const { values } = parseArgs({
  options: {
    baseline: { type: "string" },
    build: { type: "string", multiple: true, default: [] },
    runs: { type: "string", default: "20" },
    rounds: { type: "string", default: "3" },
  },
});
const runs = Number(values.runs);
const rounds = Number(values.rounds);
const builds: { label: string; tbot: string }[] = [{ label: "this build", tbot: bin("tbot") }];
if (values.baseline) builds.push({ label: "baseline", tbot: join(values.baseline, "tbot") });
for (const b of values.build ?? []) {
  const [label, dir] = b.split("=");
  if (!label || !dir) throw new Error(`--build LABEL=DIST, got ${b}`);
  builds.push({ label, tbot: join(dir, "tbot") });
}
for (const b of builds) if (!existsSync(b.tbot)) throw new Error(`${b.tbot} is missing: build it first`);

const cluster = await startCluster({ ownBinary: true });
let seq = 0;
const tokenFor = () =>
  JSON.parse(
    cluster.tctl(["bots", "add", `rss-${seq++}`, "--roles=access", "--logins=root", "--format=json"]),
  ).token_id as string;
const startArgs = (tbot: string, dir: string, token: string) => [
  tbot,
  "start",
  ...["--data-dir", join(dir, "data"), "--destination-dir", join(dir, "out")],
  ...["--token", token, "--join-method", "token", "--auth-server", cluster.addr, "--ca-pin", cluster.pin],
];

/** RSS (and peak) in MiB of a daemon after 10 renewals at 1 s; with diag, /metrics read after each. */
async function daemonRss(tbot: string, diag: boolean): Promise<{ rss: number; hwm: number }> {
  const d = join(cluster.dir, `d-${seq}`);
  const port = await freePort();
  const args = [...startArgs(tbot, d, tokenFor()), "--renewal-interval", "1s", "--certificate-ttl", "1m"];
  if (diag) args.push("--diag-addr", `127.0.0.1:${port}`);
  const daemon = spawn(args, { stderr: "pipe", stdout: "ignore" });
  let log = "";
  let seen = 0;
  const dec = new TextDecoder();
  try {
    for await (const c of daemon.stderr as ReadableStream<Uint8Array>) {
      log += dec.decode(c);
      const n = (log.match(/Renewed bot identity/g) ?? []).length;
      if (diag && n > seen) {
        const r = await fetch(`http://127.0.0.1:${port}/metrics`);
        if (r.status !== 200) throw new Error(`/metrics answered ${r.status}`);
        await r.text();
      }
      seen = n;
      if (n >= 10) break;
    }
    const status = readFileSync(`/proc/${daemon.pid}/status`, "utf8");
    return {
      rss: Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024,
      hwm: Number(/VmHWM:\s+(\d+)/.exec(status)![1]) / 1024,
    };
  } finally {
    daemon.kill("SIGTERM");
    await daemon.exited;
  }
}

try {
  // 1. One-shot wall time, the builds interleaved (two warm-up runs each).
  const oneshot = new Map(builds.map((b) => [b.label, [] as number[]]));
  for (let i = 0; i < runs + 2; i++) {
    for (const b of builds) {
      const d = join(cluster.dir, `os-${seq}`);
      const token = tokenFor();
      const t0 = performance.now();
      const r = spawnSync([...startArgs(b.tbot, d, token), "--oneshot"], { stderr: "pipe" });
      const t = performance.now() - t0;
      if (r.exitCode !== 0) throw new Error(`one-shot failed (${b.label}): ${r.stderr}`);
      if (i >= 2) oneshot.get(b.label)!.push(t);
    }
  }
  for (const b of builds) {
    const s = summary(oneshot.get(b.label)!);
    console.log(
      `one-shot token join + identity output, ${b.label} (n=${runs}): median ${ms(s.median)}, p90 ${ms(s.p90)}, min ${ms(s.min)}`,
    );
  }

  // 2. Daemon RSS after 10 renewals, diag off and on, each build, `rounds` rounds (interleaved).
  const rss = new Map<string, string[]>();
  for (let r = 0; r < rounds; r++)
    for (const diag of [false, true])
      for (const b of builds) {
        const x = await daemonRss(b.tbot, diag);
        const k = `${b.label}, diag ${diag ? "on, /metrics read after each renewal" : "off"}`;
        rss.set(k, [...(rss.get(k) ?? []), `${x.rss.toFixed(1)} (peak ${x.hwm.toFixed(1)})`]);
      }
  for (const [k, v] of rss) console.log(`tbot daemon RSS after 10 renewals, ${k}: ${v.join(", ")} MiB`);
} finally {
  cluster.stop();
}
