// Short form of the request fuzzer (the long form is bench/fuzz.ts): mutated requests of
// every route over HTTP/1.1 and HTTP/2, without a client certificate, with a bot's and with
// the admin identity. No response ≥ 500, no hang, tauth alive, its RSS bounded. FAULT_SEED
// replays a run; a failure names the seed and the request index.

import { afterAll, expect, test } from "bun:test";
import { Cluster, checkBuilt, cleanupAll, rng } from "../harness/fault.ts";
import { FuzzTarget, fuzzRequests } from "../harness/fuzz.ts";

afterAll(() => cleanupAll());

test("fuzzed requests over HTTP/1.1 and HTTP/2: no 5xx, no hang, tauth alive, RSS bounded", async () => {
  checkBuilt();
  const c = await Cluster.start();
  const target = new FuzzTarget(c);
  await target.setup();
  const seed = rng().seed;
  const rep = await fuzzRequests(target, { seed, count: 2000, concurrency: 8, timeoutMs: 10_000 });
  target.close();
  console.log(JSON.stringify({ ...rep, serverErrors: rep.serverErrors.length, hangs: rep.hangs.length }));
  for (const line of [...rep.serverErrors, ...rep.hangs, ...rep.crashes].slice(0, 20)) console.log(line);
  expect(rep.crashes).toEqual([]);
  expect(rep.hangs).toEqual([]);
  expect(rep.serverErrors).toEqual([]);
  expect(rep.rss.peakKiB).toBeLessThanOrEqual(rep.rss.boundKiB);
}, 90_000);
