// Short form of the config fuzzer (the long form is bench/fuzz.ts): mutated tbot.yaml files
// through `tbot configure -c`, mutated resource YAML through `tctl create -f`. Exit 0 or 1
// with a message, never a stack trace, an "internal error", another exit code or a hang.

import { afterAll, expect, test } from "bun:test";
import { Cluster, checkBuilt, cleanupAll, rng, workDir } from "../harness/fault.ts";
import { fuzzConfigs } from "../harness/fuzz-config.ts";

afterAll(() => cleanupAll());

test("fuzzed tbot.yaml and resource YAML: exit 0 or 1, a message, no stack trace, no hang", async () => {
  checkBuilt();
  const c = await Cluster.start();
  const rep = await fuzzConfigs(workDir("fuzz-config-"), c, { seed: rng().seed, tbot: 40, tctl: 20 });
  console.log(JSON.stringify({ ...rep, failures: rep.failures.length }));
  for (const f of rep.failures.slice(0, 10)) console.log(f);
  expect(rep.failures).toEqual([]);
}, 60_000);
