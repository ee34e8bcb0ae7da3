// Long form of the high-availability chaos run (short form: test/e2e/ha-chaos.test.ts, 2
// minutes): tauth replicas on one PostgreSQL behind HAProxy, a random replica kill -9'd every
// few seconds and started again after a short pause, while tbot daemons (token and
// bound_keypair) join and renew through HAProxy. The invariants are those of
// test/harness/ha-chaos.ts.
//   bun bench/ha-chaos.ts [--minutes 10] [--bots 20] [--bound-keypair 6] [--replicas 3]
//                         [--kill-every 2000-5000] [--pause 500-3000] [--workers N] [--seed N] [--keep]
// Prints one summary line and the figures for bench/README.md; exits 1 on any violation.

import { join } from "node:path";
import { spawnSync } from "bun";
import { chaosDefaults, HaChaos } from "../test/harness/ha-chaos.ts";

const argv = process.argv;
const arg = (name: string) => {
  const i = argv.indexOf(`--${name}`);
  return i > 0 ? argv[i + 1] : undefined;
};
const num = (name: string, dflt: number) => Number(arg(name) ?? dflt);
const range = (name: string, dflt: [number, number]): [number, number] => {
  const v = arg(name);
  if (!v) return dflt;
  const [lo, hi = lo] = v.split("-").map(Number);
  return [lo!, hi!];
};

const build = spawnSync([process.execPath, join(import.meta.dir, "..", "scripts/build.ts")], {
  stdout: "ignore",
  stderr: "inherit",
});
if (build.exitCode !== 0) throw new Error("build failed");

const o = chaosDefaults({
  durationMs: num("minutes", 10) * 60_000,
  bots: num("bots", 20),
  boundKeypair: num("bound-keypair", 6),
  replicas: num("replicas", 3),
  ...(arg("workers") ? { workers: num("workers", 1) } : {}),
  killEveryMs: range("kill-every", [2_000, 5_000]),
  pauseMs: range("pause", [500, 3_000]),
  log: (s) => console.log(s),
  ...(arg("seed") ? { seed: Number(arg("seed")) } : {}),
});
const chaos = new HaChaos(o);
const keep = argv.includes("--keep");
// Stopped by a signal: stop what it started too (replicas, daemons, HAProxy, PostgreSQL).
for (const sig of ["SIGINT", "SIGTERM"] as const)
  process.on(sig, () => chaos.tearDown(keep).then(() => process.exit(130)));

let ok = false;
try {
  await chaos.setUp();
  const r = await chaos.run();
  console.log(`\n${r.line}\n\n${chaos.violations()}\n`);
  const v = r.report.byKind();
  const n = (k: keyof typeof v) => v[k] ?? 0;
  const f = (k: string) => r.figures[k] ?? 0;
  const kills = chaos.replicas.map((x) => x.kills);
  console.log(`| figure | value |
| --- | --- |
| replica kills (per replica) / right after a commit | ${kills.reduce((a, b) => a + b, 0)} (${kills.join(" / ")}) / ${f("kills right after a commit")} |
| bots (token / bound_keypair), joins, renewals | ${o.bots} (${o.bots - o.boundKeypair} / ${o.boundKeypair}), ${f("joins (new instances)")}, ${f("renewals (cert.renew)") + f("bound_keypair re-joins (renewals)")} |
| daemon tries failed by a kill and retried / answers lost and delivered again (renewals, joins) | ${chaos.bots.reduce((a, b) => a + b.failures, 0)} / ${f("renewal answers delivered again")}, ${f("join answers delivered again")} |
| generation samples through HAProxy | ${f("generation samples")} (${f("generation samples that failed (5 tries)")} failed) |
| bots healthy / valid outputs / generation advanced at the end | ${f("bots healthy (tbot /readyz 200)")} / ${f("bots with valid outputs")} / ${f("bots whose generation advanced")} of ${o.bots} |
| locked bots / tokens used twice / regressed counters | ${n("locked")} / ${n("double-used")} / ${n("regressed")} |
| burnt tokens / not recovered / invalid outputs / crashes | ${n("burnt")} / ${n("not-recovered")} / ${n("torn")} / ${n("crash")} |
| tokens whose join the audit logs show (of ${o.bots}) | ${f("tokens whose join the audit logs show")} |
| join/renew audit events of the replicas' own files missing from the shared log | ${f("of them missing from the shared log")} of ${f("join/renew audit events in local files")} |
| wall time | ${r.seconds.toFixed(0)} s |`);
  ok = r.report.violations.length === 0;
} finally {
  await chaos.tearDown(keep);
}
process.exit(ok ? 0 : 1);
