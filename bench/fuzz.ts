// Long form of the fuzzers (short form: test/e2e/fuzz-*.test.ts): mutated requests of every
// route over HTTP/1.1 and HTTP/2 (no certificate, a bot's, the admin's), then mutated
// tbot.yaml and resource YAML through the compiled binary.
//   bun bench/fuzz.ts [--requests 100000] [--configs 2000] [--seed N] [--concurrency 8]
//   bun bench/fuzz.ts --replay SEED:INDEX     # one request again, shown and sent
// Prints the figures for bench/README.md and exits 1 on any 5xx, hang, crash or RSS overrun.

import { join } from "node:path";
import { spawnSync } from "bun";
import { Cluster, cleanupAll, rng, rssKiB, workDir } from "../test/harness/fault.ts";
import { describe, FuzzTarget, fuzzRequests } from "../test/harness/fuzz.ts";
import { fuzzConfigs } from "../test/harness/fuzz-config.ts";

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
// Stopped by a signal: stop what it started too (tauth, tbots), then exit.
for (const sig of ["SIGINT", "SIGTERM"] as const)
  process.on(sig, () => cleanupAll().then(() => process.exit(130)));
const build = spawnSync([process.execPath, join(import.meta.dir, "..", "scripts/build.ts")], {
  stderr: "inherit",
});
if (build.exitCode !== 0) throw new Error("build failed");
const MiB = (k: number) => `${(k / 1024).toFixed(0)} MiB`;
let failed = false;
try {
  const c = await Cluster.start();
  const target = new FuzzTarget(c);
  await target.setup();
  const replay = process.argv.indexOf("--replay");
  if (replay > 0) {
    const [s, i] = process.argv[replay + 1]!.split(":").map(Number);
    const req = target.request(s!, i!);
    const a = await target.send(req, 10_000);
    console.log(describe(req, i!, s!, a));
    console.log(`full body (base64): ${req.body?.toString("base64") ?? ""}`);
    console.log(`tauth log:\n${c.proc.since(0).slice(-3000)}`);
  } else {
    const seed = arg("seed", rng().seed);
    const count = arg("requests", 100_000);
    console.log(`request fuzzer: seed ${seed}, ${count} requests`);
    const rep = await fuzzRequests(target, {
      seed,
      count,
      concurrency: arg("concurrency", 8),
      onProgress: (n) =>
        n % 10_000 === 0 && console.log(`  ${n} requests… tauth RSS ${MiB(rssKiB(c.proc.pid))}`),
    });
    target.close();
    for (const l of [...rep.crashes, ...rep.hangs, ...rep.serverErrors].slice(0, 30)) console.log(l);
    const configs = arg("configs", 2000);
    const crep = await fuzzConfigs(workDir("fuzz-config-"), c, {
      seed,
      tbot: Math.round(configs * 0.75),
      tctl: Math.round(configs * 0.25),
    });
    for (const f of crep.failures.slice(0, 20)) console.log(f);
    const rssOk = rep.rss.peakKiB <= rep.rss.boundKiB;
    failed =
      rep.serverErrors.length + rep.hangs.length + rep.crashes.length + crep.failures.length > 0 || !rssOk;
    console.log(`
| figure | value |
| --- | --- |
| fuzzed requests (seed ${seed}) | ${rep.requests} in ${rep.seconds.toFixed(0)} s (${(rep.requests / rep.seconds).toFixed(0)}/s) |
| statuses | ${Object.entries(rep.byStatus)
      .map(([k, v]) => `${k}: ${v}`)
      .join(", ")} |
| responses ≥ 500 | ${rep.serverErrors.length} |
| hangs (no answer in 10 s) | ${rep.hangs.length} |
| tauth crashes / ping failures | ${rep.crashes.length} |
| transport errors (resets on refused bodies; not failures) | ${rep.transportErrors} |
| tauth RSS warm / peak / end (bound) | ${MiB(rep.rss.warmKiB)} / ${MiB(rep.rss.peakKiB)} / ${MiB(rep.rss.endKiB)} (≤ ${MiB(rep.rss.boundKiB)}) |
| bot re-joins after a lock (fuzzed renewals) | ${rep.reprovisions} |
| fuzzed configs: tbot configure / tctl create | ${crep.runs.tbot} / ${crep.runs.tctl} in ${crep.seconds.toFixed(0)} s; exits ${JSON.stringify(crep.exitCodes)} |
| config crashes, stack traces, hangs, exits ≥ 2 | ${crep.failures.length} |`);
    console.log(`slowest requests:\n  ${rep.slowest.join("\n  ")}`);
  }
} finally {
  await cleanupAll();
}
process.exit(failed ? 1 : 0);
