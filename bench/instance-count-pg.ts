// The same per-bot instance counts as bench/instance-count.ts, on PostgreSQL: a server of its
// own (Debian's PostgreSQL, loopback), N instance rows over ten bots in the backend's schema,
// then a bots page's ten counts without the tauth_kv_key_expires index (dropped: the schema
// before it), before and after VACUUM (ANALYZE), then with it; and a get + compare-and-swap of
// an instance row with and without it.
//
//   bun bench/instance-count-pg.ts [--instances 100000] [--runs 20]

import { parseArgs } from "node:util";
import { PostgresBackend } from "../src/auth/backend/postgres.ts";
import { startPostgres, stopAllPostgres } from "../test/harness/postgres.ts";
import { renewalWrites, summary } from "./lib.ts";

const { values } = parseArgs({
  options: {
    instances: { type: "string", default: "100000" },
    runs: { type: "string", default: "20" },
    cas: { type: "string", default: "3000" },
  },
});
const INSTANCES = Number(values.instances);
const RUNS = Number(values.runs);
const CAS = Number(values.cas);
const BOTS = 10;

const pg = await startPostgres();
try {
  pg.createRole("tauth", "bench-password");
  pg.createDatabase("tauth", "tauth");
  const backend = await PostgresBackend.open(
    pg.url({ user: "tauth", password: "bench-password", database: "tauth" }),
  );
  // Measured first without the index (as before it existed), then with it.
  pg.psql("DROP INDEX tauth_kv_key_expires", "tauth");
  const value = JSON.stringify({ spec: { bot_name: "x" }, status: { generation: 1, pad: "x".repeat(600) } });
  pg.psql(
    `INSERT INTO tauth_kv (key, value, revision, expires)
     SELECT '/bot_instances/fleet-' || (i % ${BOTS}) || '/' || md5(i::text), '${value}', 'r' || i,
            CASE WHEN i % 1000 = 7 THEN now() - interval '1 second' ELSE now() + interval '1 day' END
     FROM generate_series(0, ${INSTANCES - 1}) AS i`,
    "tauth",
  );
  const page = async () => {
    const t = performance.now();
    const counts: number[] = [];
    for (let i = 0; i < BOTS; i++) counts.push(await backend.count(`/bot_instances/fleet-${i}/`));
    return { ms: performance.now() - t, counts };
  };
  const measure = async (label: string) => {
    const times: number[] = [];
    let counts: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const p = await page();
      times.push(p.ms);
      counts = p.counts;
    }
    const s = summary(times);
    console.log(
      `  ${label}: median ${s.median.toFixed(1)} ms, p90 ${s.p90.toFixed(1)} ms (counts ${counts.join(", ")})`,
    );
  };
  console.log(
    `${INSTANCES} instance rows over ${BOTS} bots (PostgreSQL), a bots page's ${BOTS} counts, ${RUNS} runs`,
  );
  await measure("as written (no vacuum yet)");
  pg.psql("VACUUM (ANALYZE) tauth_kv", "tauth");
  await measure("after VACUUM (ANALYZE)");
  const built = performance.now();
  pg.psql("CREATE INDEX tauth_kv_key_expires ON tauth_kv (key) INCLUDE (expires)", "tauth");
  console.log(`  building the index (psql, one statement): ${(performance.now() - built).toFixed(0)} ms`);
  pg.psql("VACUUM (ANALYZE) tauth_kv", "tauth");
  await measure("with (key) INCLUDE (expires), vacuumed");

  // A renewal's write: get + compare-and-swap of one instance row, its expiry moved on; with
  // the index and with it dropped, round by round.
  const keys = pg
    .psql("SELECT key FROM tauth_kv WHERE key LIKE '/bot_instances/fleet-3/%' LIMIT 200", "tauth")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.startsWith("/bot_instances/"));
  const casRound = () => renewalWrites(backend, keys, CAS);
  const cas = { with: [] as number[], without: [] as number[] };
  for (let r = 0; r < 3; r++) {
    cas.with.push(await casRound());
    pg.psql("DROP INDEX tauth_kv_key_expires", "tauth");
    cas.without.push(await casRound());
    pg.psql("CREATE INDEX tauth_kv_key_expires ON tauth_kv (key) INCLUDE (expires)", "tauth");
  }
  const us = (v: number[]) => v.map((x) => x.toFixed(0)).join(", ");
  console.log(`get + compare-and-swap of an instance row, µs each (${CAS} per round; 3 rounds)`);
  console.log(`  with (key) INCLUDE (expires): ${us(cas.with)}`);
  console.log(`  without it:                   ${us(cas.without)}`);
  await measure("with the index, after those writes (no vacuum)");
  await backend.close();
} finally {
  await stopAllPostgres();
}
