// Long form of the fault suite (short form: test/e2e/fault-*.test.ts): kill -9 of tbot at
// random moments of one-shot joins/renewals and of daemon renewals, and of tauth under a
// stream of joins and renewals; after each kill the invariants of test/harness/fault-checks.ts.
//   bun bench/fault.ts [--tbot-kills 1000] [--tauth-kills 100] [--seed N] [--keep]
// Prints the figures for bench/README.md and exits 1 if any invariant was violated.

import { join } from "node:path";
import { spawnSync } from "bun";
import { backend, Cluster, cleanupAll, rng } from "../test/harness/fault.ts";
import { checkDatabase, Report } from "../test/harness/fault-checks.ts";
import { daemonKills, oneShotKills, tauthKills } from "../test/harness/fault-scenarios.ts";

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const tbotKills = arg("tbot-kills", 1000);
const tauthKillsWanted = arg("tauth-kills", 100);
const seed = arg("seed", rng().seed);
// Stopped by a signal: stop what it started too (tauth, tbots), then exit.
for (const sig of ["SIGINT", "SIGTERM"] as const)
  process.on(sig, () => cleanupAll().then(() => process.exit(130)));
const build = spawnSync([process.execPath, join(import.meta.dir, "..", "scripts/build.ts")], {
  stderr: "inherit",
});
if (build.exitCode !== 0) throw new Error("build failed");

const report = new Report(seed);
const r = rng(seed);
const t0 = performance.now();
const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(0)} s`;
const progress = (what: string) => {
  const v = report.byKind();
  console.log(
    `[${elapsed()}] ${what}: kills ${JSON.stringify(report.kills)} violations ${JSON.stringify(v)}`,
  );
};
console.log(
  `fault bench: backend ${backend.name}, seed ${seed}, ${tbotKills} tbot kills, ${tauthKillsWanted} tauth kills`,
);
try {
  // tbot: 70% in one-shot joins and renewals, 30% in daemons; a fresh tauth every 100 kills.
  const oneShot = Math.round(tbotKills * 0.7);
  for (let done = 0; done < oneShot; done += 100) {
    const c = await Cluster.start();
    await oneShotKills(c, r, Math.min(100, oneShot - done), report);
    await c.stop();
    checkDatabase(c, report, "after one-shot kills");
    progress("tbot one-shot");
  }
  const daemon = tbotKills - oneShot;
  for (let done = 0; done < daemon; done += 100) {
    const c = await Cluster.start();
    await daemonKills(c, r, Math.min(100, daemon - done), report, 3);
    await c.stop();
    checkDatabase(c, report, "after daemon kills");
    progress("tbot daemon");
  }
  for (let done = 0; done < tauthKillsWanted; done += 25) {
    const c = await Cluster.start();
    await tauthKills(c, r, Math.min(25, tauthKillsWanted - done), report, { daemons: 4, joiners: 2 });
    await c.stop();
    progress("tauth");
  }
} finally {
  await cleanupAll(process.argv.includes("--keep"));
}
const v = report.byKind();
const n = (k: keyof typeof v) => v[k] ?? 0;
const tbot = Object.entries(report.kills)
  .filter(([k]) => k.startsWith("tbot"))
  .reduce((a, [, x]) => a + x, 0);
console.log(`\n${report.summary()}\n`);
console.log(`| figure | value |
| --- | --- |
| tbot kills (one-shot join / one-shot renewal / daemon) | ${tbot} (${report.kills["tbot one-shot join"] ?? 0} / ${report.kills["tbot one-shot renew"] ?? 0} / ${report.kills["tbot daemon"] ?? 0}) |
| tauth kills | ${report.kills.tauth ?? 0} (one-shot joins ${report.counts["one-shot joins"] ?? 0}, renewals ${report.counts["one-shot renewals"] ?? 0} through them) |
| torn outputs | ${n("torn")} |
| double-used tokens | ${n("double-used")} |
| regressed counters | ${n("regressed")} |
| locked bots (locks, generation-mismatch audit events; per instance) | ${n("locked")} |
| burnt tokens | ${n("burnt")} |
| bots not recovering by themselves | ${n("not-recovered")} |
| database integrity failures (of ${report.counts["integrity checks"] ?? 0} checks) | ${n("database")} |
| crashes / stack traces | ${n("crash")} |
| wall time | ${elapsed()} |`);
process.exit(report.violations.length ? 1 : 0);
