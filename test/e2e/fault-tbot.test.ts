// Short form of the tbot kill suite (the long form is bench/fault.ts): kill -9 of tbot at
// random moments of one-shot joins and renewals and of daemon renewals. After each kill the
// outputs are absent or whole with the key matching the certificate; the same command rerun
// (same token, same storage) succeeds; no counter goes back, no token starts two instances,
// no lock. FAULT_SEED replays a run.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { Cluster, checkBuilt, cleanupAll, rng } from "../harness/fault.ts";
import { checkDatabase, Report } from "../harness/fault-checks.ts";
import { daemonKills, oneShotKills } from "../harness/fault-scenarios.ts";

beforeAll(checkBuilt);
afterAll(() => cleanupAll());

async function expectClean(c: Cluster, report: Report) {
  await c.stop();
  checkDatabase(c, report, "after the kills");
  console.log(report.summary());
  expect(report.violations).toEqual([]);
}

test("kill -9 of tbot one-shot joins and renewals: outputs whole, the rerun succeeds, no lock", async () => {
  const c = await Cluster.start();
  const report = new Report(rng().seed);
  await oneShotKills(c, rng(report.seed), 16, report);
  expect(Object.values(report.kills).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(16);
  await expectClean(c, report);
}, 60_000);

test("kill -9 of tbot daemons during renewals: outputs whole, the restarted daemon renews", async () => {
  const c = await Cluster.start();
  const report = new Report(rng().seed);
  await daemonKills(c, rng(report.seed), 9, report, 3);
  await expectClean(c, report);
}, 60_000);
