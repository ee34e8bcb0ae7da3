// The SQLite expiry sweep and the event loop (tauth runs it every 60 s): the longest time the
// loop is held while it runs, over a table of N audit-like rows and 100,000 instance rows (one
// in a hundred expired), for the sweep as one DELETE over the whole table (before) and as the
// backend's purgeExpired (a slice of rows at a time, the loop given back between slices),
// alternated round by round. The loop is probed by a chain of setImmediate callbacks; the
// stall is the longest gap between two of them.
//
//   bun bench/purge-stall.ts [--rows 1000000] [--rounds 3]

import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { SqliteBackend } from "../src/auth/backend/sqlite.ts";

const { values } = parseArgs({
  options: { rows: { type: "string", default: "1000000" }, rounds: { type: "string", default: "3" } },
});
const ROWS = Number(values.rows);
const ROUNDS = Number(values.rounds);

const dir = mkdtempSync(join(tmpdir(), "bench-purge-"));
try {
  const path = join(dir, "tauth.db");
  await new SqliteBackend(path).close();
  const db = new Database(path);
  const now = Date.now();
  const event = JSON.stringify({
    event: "bot.renew",
    bot: "fleet-1",
    generation: 12,
    remote_addr: "10.0.0.1",
  });
  const fill = () =>
    db.transaction(() => {
      const ins = db.query("INSERT OR REPLACE INTO kv VALUES (?, ?, 'r', ?)");
      for (let i = 0; i < ROWS; i++)
        ins.run(
          `/audit/${String(i).padStart(10, "0")}`,
          event,
          i % 100 === 0 ? now - 1000 : now + 90 * 86_400_000,
        );
      for (let i = 0; i < 100_000; i++)
        ins.run(
          `/bot_instances/fleet-${i % 10}/${String(i).padStart(8, "0")}`,
          "x".repeat(1500),
          now + 86_400_000,
        );
    })();
  fill();

  /** Runs `f` while probing the event loop; the longest gap between probes, and f's duration. */
  const probe = async (f: () => Promise<unknown>): Promise<{ stall: number; total: number }> => {
    let last = performance.now();
    let stall = 0;
    let running = true;
    const tick = () => {
      const t = performance.now();
      stall = Math.max(stall, t - last);
      last = t;
      if (running) setImmediate(tick);
    };
    setImmediate(tick);
    const t0 = performance.now();
    await f();
    const total = performance.now() - t0;
    running = false;
    const t = performance.now();
    stall = Math.max(stall, t - last);
    return { stall, total };
  };

  const backend = new SqliteBackend(path);
  const before: { stall: number; total: number }[] = [];
  const after: { stall: number; total: number }[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    before.push(
      await probe(async () => {
        db.query("DELETE FROM kv WHERE expires IS NOT NULL AND expires <= ?").run(Date.now());
      }),
    );
    fill();
    after.push(await probe(() => backend.purgeExpired()));
    fill();
  }
  await backend.close();
  db.close();
  const f = (v: { stall: number; total: number }[]) =>
    v.map((x) => `${x.stall.toFixed(1)} ms (sweep ${x.total.toFixed(0)} ms)`).join(", ");
  const load = (await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ");
  console.log(`${new Date().toISOString()}, load average ${load}`);
  console.log(`${ROWS + 100_000} rows (1 in 100 expired), longest event-loop stall while the sweep runs:`);
  console.log(`  one DELETE over the table (before): ${f(before)}`);
  console.log(`  purgeExpired, sliced:               ${f(after)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
