// Short form of the tbot kill suite (the long form is bench/fault.ts): kill -9 of tbot at
// random moments of one-shot joins and renewals and of daemon renewals. After each kill the
// outputs are absent or whole with the key matching the certificate; the same command rerun
// (same token, same storage) succeeds; no counter goes back, no token starts two instances,
// no lock. FAULT_SEED replays a run.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { cpSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  Cluster,
  checkBuilt,
  cleanupAll,
  makeRuns,
  oneShotArgs,
  rng,
  runCmd,
  workDir,
} from "../harness/fault.ts";
import {
  checkDatabase,
  checkRunOutputs,
  checkStore,
  GenerationLedger,
  Report,
} from "../harness/fault-checks.ts";
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

test("the checks see what they look for: a key of another bot, a missing file, a counter going back", async () => {
  const c = await Cluster.start();
  const [a, b] = makeRuns(c, 2);
  for (const r of [a!, b!]) expect((await runCmd(oneShotArgs(c, r))).code).toBe(0);
  expect(checkRunOutputs(a!, false)).toEqual([]);
  const torn = join(workDir("torn-"), "out");
  cpSync(a!.dest, torn, { recursive: true, verbatimSymlinks: true });
  const gen = join(torn, readlinkSync(join(torn, "..identity")));
  writeFileSync(join(gen, "tlscert"), readFileSync(join(b!.dest, "tlscert")));
  expect(checkStore(torn, "identity", false).join()).toContain("key does not match tlscert");
  rmSync(join(gen, "key-cert.pub"));
  expect(checkStore(torn, "identity", false).join()).toContain("missing key-cert.pub");
  const ledger = new GenerationLedger();
  const inst = (generation: number) => [
    { spec: { bot_name: "x", instance_id: "1" }, status: { generation } },
  ];
  expect(ledger.observe(inst(3))).toEqual([]);
  expect(ledger.observe(inst(2))).toEqual(["x/1: generation 3 → 2"]);
});
