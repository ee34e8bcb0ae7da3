import { Database } from "bun:sqlite";
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteBackend } from "../../../src/auth/backend/sqlite.ts";
import { backendContract } from "./contract.ts";

const dir = mkdtempSync(join(tmpdir(), "backend-"));
let n = 0;
backendContract("sqlite", async () => new SqliteBackend(join(dir, `db-${n++}.sqlite`)));

test("sqlite: the database file is private (0600)", async () => {
  const p = join(dir, "perm.sqlite");
  const b = new SqliteBackend(p);
  await b.close();
  expect(statSync(p).mode & 0o777).toBe(0o600);
});

test("sqlite: a database from before the (key, expires) index gets it at open; counts then read no table row", async () => {
  const p = join(dir, "old.sqlite");
  const old = new Database(p, { create: true });
  old.exec(
    "CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, revision TEXT NOT NULL, expires INTEGER)",
  );
  const ins = old.query("INSERT INTO kv VALUES (?, '{}', 'r', ?)");
  ins.run("/i/b/1", Date.now() + 60_000);
  ins.run("/i/b/2", Date.now() - 1000);
  ins.run("/i/b/3", null);
  old.close();
  const b = new SqliteBackend(p);
  expect(await b.count("/i/b/")).toBe(2);
  await b.close();
  const db = new Database(p);
  const plan = db
    .query<{ detail: string }, []>(
      "EXPLAIN QUERY PLAN SELECT COUNT(*) FROM kv WHERE key >= '/i/b/' AND key < '/i/b/\uffff' AND (expires IS NULL OR expires > 0)",
    )
    .all()
    .map((r) => r.detail);
  db.close();
  expect(plan).toEqual(["SEARCH kv USING COVERING INDEX kv_key_expires (key>? AND key<?)"]);
});

test("sqlite: the expiry sweep gives the event loop back between slices of the table, and removes every expired row", async () => {
  const p = join(dir, "sweep.sqlite");
  await new SqliteBackend(p).close();
  const db = new Database(p);
  const now = Date.now();
  db.transaction(() => {
    const ins = db.query("INSERT INTO kv VALUES (?, '{}', 'r', ?)");
    for (let i = 0; i < 10_000; i++) ins.run(`/s/${i}`, i % 10 === 0 ? now - 1000 : now + 60_000);
  })();
  db.close();
  const b = new SqliteBackend(p);
  let done = false;
  let ranDuring = false;
  setImmediate(() => {
    ranDuring = !done;
  });
  const removed = await b.purgeExpired();
  done = true;
  expect(ranDuring).toBe(true);
  expect(removed).toBe(1000);
  expect(await b.count("/s/")).toBe(9000);
  await b.close();
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));
