// Counting a bot's instances on SQLite (the web console's bots page, tauth_bot_instances), and
// what the (key, expires) index behind it costs a write. On one database of N instance rows
// over ten bots (each with an expiry, as real instance records have, a few already expired),
// with the index and with it dropped (the schema before it), alternated round by round:
// - a bots page's counts: the backend's count() of each bot's instances;
// - compare-and-swap of one instance row moving its expiry (a renewal's write).
//
//   bun bench/instance-count.ts [--instances 100000] [--runs 20] [--cas 5000]

import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { SqliteBackend } from "../src/auth/backend/sqlite.ts";
import { renewalWrites, summary } from "./lib.ts";

const { values } = parseArgs({
  options: {
    instances: { type: "string", default: "100000" },
    runs: { type: "string", default: "20" },
    cas: { type: "string", default: "5000" },
  },
});
const INSTANCES = Number(values.instances);
const RUNS = Number(values.runs);
const CAS = Number(values.cas);
const BOTS = 10;

const dir = mkdtempSync(join(tmpdir(), "bench-instance-count-"));
try {
  const path = join(dir, "tauth.db");
  const backend = new SqliteBackend(path);
  const db = new Database(path);
  const now = Date.now();
  const value = JSON.stringify({ spec: { bot_name: "x" }, status: { generation: 1, pad: "x".repeat(600) } });
  db.transaction(() => {
    const ins = db.query("INSERT INTO kv (key, value, revision, expires) VALUES (?, ?, ?, ?)");
    for (let i = 0; i < INSTANCES; i++) {
      // One in a thousand expired a moment ago and not yet swept.
      const expires = i % 1000 === 7 ? now - 1000 : now + 86_400_000 + i;
      ins.run(`/bot_instances/fleet-${i % BOTS}/${crypto.randomUUID()}`, value, `r${i}`, expires);
    }
  })();

  const time = async (f: () => Promise<unknown>) => {
    const t = performance.now();
    await f();
    return performance.now() - t;
  };
  const keys = db
    .query<{ key: string }, []>("SELECT key FROM kv WHERE key LIKE '/bot_instances/fleet-3/%' LIMIT 200")
    .all()
    .map((r) => r.key);
  // A renewal's write: get, then compare-and-swap of one instance with its expiry moved on.
  const casRound = () => renewalWrites(backend, keys, CAS);
  const page = async (): Promise<number[]> => {
    const counts: number[] = [];
    for (let i = 0; i < BOTS; i++) counts.push(await backend.count(`/bot_instances/fleet-${i}/`));
    return counts;
  };
  const expected = await page();
  const figures = {
    with: { page: [] as number[], cas: [] as number[] },
    without: { page: [] as number[], cas: [] as number[] },
  };
  for (let r = 0; r < 3; r++) {
    for (const variant of ["with", "without"] as const) {
      if (variant === "without") db.exec("DROP INDEX kv_key_expires");
      for (let i = 0; i < RUNS; i++)
        figures[variant].page.push(
          await time(async () => {
            const got = await page();
            if (got.join() !== expected.join()) throw new Error(`counts differ: ${got} against ${expected}`);
          }),
        );
      figures[variant].cas.push(await casRound());
      if (variant === "without") db.exec("CREATE INDEX kv_key_expires ON kv (key, expires)");
    }
  }
  await backend.close();
  db.close();

  const f = (v: number[]) => {
    const x = summary(v);
    return `median ${x.median.toFixed(1)} ms, p90 ${x.p90.toFixed(1)} ms`;
  };
  const us = (v: number[]) => v.map((x) => x.toFixed(1)).join(", ");
  console.log(`${INSTANCES} instance rows over ${BOTS} bots (SQLite, WAL); counts ${expected.join(", ")}`);
  console.log(`a bots page's ${BOTS} counts (${RUNS} × 3 rounds each)`);
  console.log(`  with the (key, expires) index: ${f(figures.with.page)}`);
  console.log(`  without it:                    ${f(figures.without.page)}`);
  console.log(`get + compare-and-swap of an instance row, µs each (${CAS} per round; 3 rounds)`);
  console.log(`  with the (key, expires) index: ${us(figures.with.cas)}`);
  console.log(`  without it:                    ${us(figures.without.cas)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
