// The SQLite change journal (change-feed-sqlite.ts): two connections to one file stand for
// two worker processes; what one writes to a watched key, the other's poll announces.

import { Database } from "bun:sqlite";
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  JOURNAL_KEEP,
  pollChangeJournal,
  trimChangeJournal,
} from "../../../src/auth/backend/change-feed-sqlite.ts";
import { SqliteBackend } from "../../../src/auth/backend/sqlite.ts";

const dir = mkdtempSync(join(tmpdir(), "sqlite-feed-"));
let n = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function follow(b: SqliteBackend) {
  const keys: string[] = [];
  let resyncs = 0;
  const stop = b.listenForChanges(
    (k) => keys.push(k),
    () => resyncs++,
  );
  return { keys, resyncs: () => resyncs, stop };
}

const until = async (check: () => boolean, ms = 2000) => {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await Bun.sleep(10);
  return check();
};

test("another connection's writes to watched keys are announced in order; others are not", async () => {
  const path = join(dir, `db-${n++}.sqlite`);
  const a = new SqliteBackend(path);
  const b = new SqliteBackend(path);
  const f = follow(b);
  expect(f.resyncs()).toBe(1); // the first subscription reloads
  await a.put({ key: "/locks/one", value: "{}" });
  await a.put({ key: "/bots/x", value: "{}" });
  const one = await a.get("/locks/one");
  await a.compareAndSwap(one!.revision, { key: "/locks/one", value: '{"a":1}' });
  await a.create({ key: "/locks/two", value: "{}" });
  await a.atomic([
    { key: "/locks/three", condition: { kind: "absent" }, action: { kind: "put", value: "{}" } },
  ]);
  await a.delete("/locks/two");
  // "/locks" alone and "/locksmith/..." are not under the "/locks/" prefix.
  await a.put({ key: "/locksmith/x", value: "{}" });
  expect(await until(() => f.keys.length >= 5)).toBe(true);
  await Bun.sleep(250);
  expect(f.keys).toEqual(["/locks/one", "/locks/one", "/locks/two", "/locks/three", "/locks/two"]);
  expect(f.resyncs()).toBe(1);
  await (await f.stop)();
  await a.close();
  await b.close();
});

test("a poller that missed trimmed entries reloads everything", async () => {
  const path = join(dir, `db-${n++}.sqlite`);
  const a = new SqliteBackend(path);
  const db = new Database(path);
  for (let i = 0; i < 3; i++) await a.put({ key: `/locks/${i}`, value: "{}" });
  // A reader that saw up to entry 1 while entries 2..N+3 came and all but the last N stayed.
  let resyncs = 0;
  const seen: string[] = [];
  const stop = await pollChangeJournal(
    db,
    (k) => seen.push(k),
    () => resyncs++,
    20,
  );
  expect(resyncs).toBe(1);
  for (let i = 0; i < JOURNAL_KEEP + 2; i++) await a.put({ key: "/locks/busy", value: String(i) });
  expect(seen).toEqual([]);
  // Its position is the newest entry at subscription (3): trimming past it is a gap.
  trimChangeJournal(db);
  expect(await until(() => resyncs === 2)).toBe(true);
  expect(seen.length).toBe(JOURNAL_KEEP);
  await stop();
  db.close();
  await a.close();
});
