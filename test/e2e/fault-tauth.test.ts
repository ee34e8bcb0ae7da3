// Short form of the tauth kill suite (the long form is bench/fault.ts): kill -9 of tauth at
// random moments while daemons renew and one-shots join and renew. After each kill the
// stopped database passes its integrity check; after the restart every daemon renews by
// itself, every interrupted one-shot completes with its own token, no counter went back, no
// token started two instances, no lock, no generation-mismatch in the audit log.

import { afterAll, expect, test } from "bun:test";
import { Cluster, checkBuilt, cleanupAll, rng } from "../harness/fault.ts";
import { Report } from "../harness/fault-checks.ts";
import { tauthKills } from "../harness/fault-scenarios.ts";

afterAll(() => cleanupAll());

test("kill -9 of tauth under joins and renewals: database intact, every bot recovers by itself", async () => {
  checkBuilt();
  const c = await Cluster.start();
  const report = new Report(rng().seed);
  await tauthKills(c, rng(report.seed), 4, report, { daemons: 3, joiners: 2 });
  console.log(report.summary());
  expect(report.kills.tauth).toBe(4);
  expect(report.violations).toEqual([]);
}, 90_000);
