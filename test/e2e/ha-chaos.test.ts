// High availability, part 3: chaos. SLOW — this file alone takes about 2.5 minutes (exactly
// 2 minutes of kills, plus setting up and the final checks); the long form is
// `bun bench/ha-chaos.ts --minutes 10`.
//
// Three tauth replicas on one PostgreSQL behind HAProxy; every 2–5 s one replica (at random,
// a third of the time right after it committed a join or a renewal) is killed with SIGKILL
// and started again 0.5–3 s later with the same replica ID, data directory, port and conn
// string, never leaving fewer than one serving. Meanwhile 20 tbot daemons (14 token, 6
// bound_keypair; renewal every 5 s, certificates of 1 minute) start over the first 20 s, join
// and renew through HAProxy. Every bot must end healthy with valid outputs and a generation
// past its first; no bot locked, no token used twice, no generation counter gone back (sampled
// every 2 s through HAProxy and read from each daemon's log). The invariants are in
// test/harness/ha-chaos.ts. FAULT_SEED=N replays the random choices (kill timing still varies).

import { afterAll, expect, test } from "bun:test";
import { chaosDefaults, HaChaos } from "../harness/ha-chaos.ts";
import { cleanupAfterFile } from "../harness/proc.ts";

let chaos: HaChaos | undefined;
// Before cleanupAfterFile's SIGKILLs: PostgreSQL is stopped gracefully.
afterAll(() => chaos?.tearDown());
cleanupAfterFile();

test("kill -9 of a random replica every few seconds for 2 minutes while 20 daemons join and renew through HAProxy: every bot healthy, none locked, no token used twice, no counter back", async () => {
  chaos = new HaChaos(chaosDefaults({ durationMs: 120_000, log: (s) => console.log(s) }));
  await chaos.setUp();
  const r = await chaos.run();
  console.log(r.line);
  if (r.report.violations.length) console.log(chaos.violations());
  const v = r.report.byKind();
  const bots = chaos.o.bots;
  // The chaos happened: kills throughout, every daemon joined and renewed through them.
  expect(chaos.replicas.reduce((a, x) => a + x.kills, 0)).toBeGreaterThanOrEqual(15);
  expect(r.figures["joins (new instances)"]).toBe(bots);
  expect(
    r.figures["renewals (cert.renew)"]! + r.figures["bound_keypair re-joins (renewals)"]!,
  ).toBeGreaterThan(bots * 10);
  expect(r.figures["generation samples"]).toBeGreaterThanOrEqual(30);
  expect(r.figures["tokens whose join the audit logs show"]).toBeGreaterThanOrEqual(bots - 2);
  // Every bot healthy with valid outputs, advanced past its first generation.
  expect(r.figures["bots healthy (tbot /readyz 200)"]).toBe(bots);
  expect(r.figures["bots with valid outputs"]).toBe(bots);
  expect(r.figures["bots whose generation advanced"]).toBe(bots);
  // The four counts, and nothing else wrong either.
  expect({
    locked: v.locked ?? 0,
    "tokens used twice": v["double-used"] ?? 0,
    "regressed counters": v.regressed ?? 0,
  }).toEqual({ locked: 0, "tokens used twice": 0, "regressed counters": 0 });
  expect(r.report.violations).toEqual([]);
}, 240_000);
