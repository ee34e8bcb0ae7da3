// Collection.listPage: pages over one collection's keys, with a cursor that is a key suffix
// (a hash for tokens), and Collection.list unchanged.

import { expect, test } from "bun:test";
import { SqliteBackend } from "../../../src/auth/backend/sqlite.ts";
import { Collection, sha256Hex } from "../../../src/auth/store/collection.ts";

test("listPage walks a collection in pages; list still returns everything", async () => {
  const b = new SqliteBackend(":memory:");
  const bots = new Collection<{ n: number }>(b, "/bots/");
  for (let i = 1; i <= 5; i++) await bots.put(`bot${i}`, { n: i });
  await b.put({ key: "/botsx/not-mine", value: "{}" });
  const seen: number[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await bots.listPage({ limit: 2, startAfter: cursor });
    seen.push(...page.items.map((i) => i.value.n));
    cursor = page.next;
    pages++;
  } while (cursor !== undefined);
  expect(seen).toEqual([1, 2, 3, 4, 5]);
  expect(pages).toBe(3);
  expect((await bots.list()).length).toBe(5);
  await b.close();
});

test("a page cursor of a hashed collection is the hash, not the name", async () => {
  const b = new SqliteBackend(":memory:");
  const tokens = new Collection<{ x: number }>(b, "/tokens/", sha256Hex);
  await tokens.put("secret-token-name", { x: 1 });
  const page = await tokens.listPage({ limit: 1 });
  expect(page.next).toBe(sha256Hex("secret-token-name"));
  expect((await tokens.listPage({ limit: 1, startAfter: page.next })).items).toEqual([]);
  await b.close();
});
