// The in-memory lock index (src/auth/lock-index.ts) and the change feed that keeps it current
// (src/auth/backend/change-feed*.ts): lookups by target, this process's writes seen at once,
// announcements read back in order (a slow read never undoes a newer write), full reloads,
// and two services on one PostgreSQL database seeing each other's locks.

import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { Backend, Item } from "../../../src/auth/backend/backend.ts";
import { ChangeFeed, watchWrites } from "../../../src/auth/backend/change-feed.ts";
import { SqliteBackend } from "../../../src/auth/backend/sqlite.ts";
import { LOCK_PREFIX, LockIndex } from "../../../src/auth/lock-index.ts";
import { createLock, findLock } from "../../../src/auth/locks.ts";
import { AuthService } from "../../../src/auth/service.ts";
import type { Lock, LockTarget } from "../../../src/auth/store/types.ts";
import { cleanupAfterFile, tempDir } from "../../harness/proc.ts";
import { pgFixture } from "../backend/pg-fixture.ts";

cleanupAfterFile();

const pg = pgFixture();

const lock = (id: string, target: LockTarget): Lock => ({
  kind: "lock",
  version: "v2",
  metadata: { name: id },
  spec: { target, message: `lock ${id}`, created_at: "2026-01-01T00:00:00Z", created_by: "test" },
});

const put = (b: Backend, l: Lock) => b.put({ key: LOCK_PREFIX + l.metadata.name, value: JSON.stringify(l) });

async function until(check: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) return false;
    await Bun.sleep(10);
  }
  return true;
}

async function indexOn(raw: Backend) {
  const feed = new ChangeFeed();
  const backend = watchWrites(raw, feed);
  const index = new LockIndex(backend, 3600_000);
  await index.start(feed);
  return { feed, backend, index };
}

describe("lookups", () => {
  test("each kind of target is found by its own key, and only by it", async () => {
    const { backend, index } = await indexOn(new SqliteBackend(":memory:"));
    await put(backend, lock("l1", { bot: "b" }));
    await put(backend, lock("l2", { bot_instance_id: "i" }));
    await put(backend, lock("l3", { join_token: "t" }));
    await put(backend, lock("l4", { admin_identity: "a" }));
    expect(index.find({ bot: "b" })?.metadata.name).toBe("l1");
    expect(index.find({ instance: "i" })?.metadata.name).toBe("l2");
    expect(index.find({ token: "t" })?.metadata.name).toBe("l3");
    expect(index.find({ adminIdentity: "a" })?.metadata.name).toBe("l4");
    // A bot named like an instance is another target.
    expect(index.find({ bot: "i", instance: "b", token: "a" })).toBeNull();
    expect(index.find({})).toBeNull();
    index.stop();
  });

  test("several locks on one caller: the lowest ID, as the list order gave before", async () => {
    const { backend, index } = await indexOn(new SqliteBackend(":memory:"));
    await put(backend, lock("zz", { bot: "b" }));
    await put(backend, lock("mm", { bot_instance_id: "i" }));
    await put(backend, lock("aa", { bot: "b" }));
    expect(index.find({ bot: "b", instance: "i" })?.metadata.name).toBe("aa");
    await backend.delete(`${LOCK_PREFIX}aa`);
    expect(index.find({ bot: "b", instance: "i" })?.metadata.name).toBe("mm");
    index.stop();
  });
});

describe("keeping current", () => {
  test("this process's writes (put, CAS, delete, atomic) are in the index when the call returns", async () => {
    const { backend, index } = await indexOn(new SqliteBackend(":memory:"));
    const it = await put(backend, lock("l1", { bot: "b" }));
    expect(index.find({ bot: "b" })).not.toBeNull();
    await backend.compareAndSwap(it.revision, {
      key: `${LOCK_PREFIX}l1`,
      value: JSON.stringify(lock("l1", { bot: "c" })),
    });
    expect(index.find({ bot: "b" })).toBeNull();
    expect(index.find({ bot: "c" })).not.toBeNull();
    await backend.atomic([
      { key: `${LOCK_PREFIX}l1`, condition: { kind: "exists" }, action: { kind: "delete" } },
      {
        key: `${LOCK_PREFIX}l2`,
        condition: { kind: "absent" },
        action: { kind: "put", value: JSON.stringify(lock("l2", { bot: "d" })) },
      },
    ]);
    expect(index.find({ bot: "c" })).toBeNull();
    expect(index.find({ bot: "d" })).not.toBeNull();
    index.stop();
  });

  test("another process's write: read on announcement; unannounced, found by the next full reload", async () => {
    const raw = new SqliteBackend(":memory:");
    const { feed, index } = await indexOn(raw);
    // Written below the feed, as another replica would.
    await put(raw, lock("remote", { bot: "r" }));
    expect(index.find({ bot: "r" })).toBeNull();
    feed.changed(`${LOCK_PREFIX}remote`);
    expect(await until(() => index.find({ bot: "r" }) !== null)).toBe(true);
    await put(raw, lock("missed", { bot: "m" }));
    await raw.delete(`${LOCK_PREFIX}remote`);
    feed.resync();
    expect(await until(() => index.find({ bot: "m" }) !== null && index.find({ bot: "r" }) === null)).toBe(
      true,
    );
    expect(index.size).toBe(1);
    index.stop();
  });

  test("a read that began before this process wrote the same lock does not undo the write", async () => {
    const raw = new SqliteBackend(":memory:");
    const held: (() => void)[] = [];
    let hold = false;
    // A backend whose reads can be held, to order a slow read against a write.
    const slow: Backend = new Proxy(raw, {
      get(t, p) {
        if (p === "get")
          return async (key: string): Promise<Item | null> => {
            const r = await t.get(key);
            if (hold) await new Promise<void>((res) => held.push(res));
            return r;
          };
        const v = Reflect.get(t, p, t);
        return typeof v === "function" ? v.bind(t) : v;
      },
    });
    const { feed, backend, index } = await indexOn(slow);
    hold = true;
    feed.changed(`${LOCK_PREFIX}x`); // a remote announcement: its read sees no lock yet...
    await until(() => held.length === 1);
    await put(backend, lock("x", { bot: "b" })); // ...then this process locks the bot
    expect(index.find({ bot: "b" })).not.toBeNull();
    held.shift()!(); // the old read lands; the read-back of the write is held in turn
    expect(await until(() => held.length === 1)).toBe(true);
    expect(index.find({ bot: "b" })).not.toBeNull();
    hold = false;
    held.shift()!();
    await Bun.sleep(20);
    expect(index.find({ bot: "b" })).not.toBeNull();
    index.stop();
  });

  test("a reload that fails keeps what is known and is tried again", async () => {
    const raw = new SqliteBackend(":memory:");
    let failures = 1;
    const flaky: Backend = new Proxy(raw, {
      get(t, p) {
        if (p === "list")
          return async (prefix: string) => {
            if (failures-- > 0 && prefix === LOCK_PREFIX) throw new Error("database away");
            return t.list(prefix);
          };
        const v = Reflect.get(t, p, t);
        return typeof v === "function" ? v.bind(t) : v;
      },
    });
    await put(raw, lock("known", { bot: "k" }));
    failures = 0;
    const { feed, index } = await indexOn(flaky);
    await put(raw, lock("later", { bot: "l" }));
    failures = 1;
    feed.resync();
    expect(index.find({ bot: "k" })).not.toBeNull();
    expect(await until(() => index.find({ bot: "l" }) !== null)).toBe(true);
    index.stop();
  });
});

describe("through the service", () => {
  test("SQLite: tctl lock and rm take effect at the next call", async () => {
    const svc = await AuthService.open({
      dataDir: join(tempDir("lock-index-"), "data"),
      clusterName: "x.test",
    });
    const l = await createLock(svc, { bot: "b" }, "stop", "test");
    expect((await findLock(svc, { bot: "b" }))?.metadata.name).toBe(l.metadata.name);
    await svc.locks.delete(l.metadata.name);
    expect(await findLock(svc, { bot: "b" })).toBeNull();
    await svc.close();
  });

  test("PostgreSQL: two services on one database see each other's locks and removals", async () => {
    const f = await pg();
    const { url } = await f.freshSchema();
    const { PostgresBackend } = await import("../../../src/auth/backend/postgres.ts");
    const open = async () =>
      AuthService.open({
        dataDir: join(tempDir("lock-index-pg-"), "data"),
        clusterName: "x.test",
        backend: await PostgresBackend.open(url, { max: 2 }),
        lockReloadMs: 3600_000,
      });
    const a = await open();
    const b = await open();
    const l = await createLock(a, { bot_instance_id: "i" }, "copied", "test");
    expect(await until(() => b.lockIndex.find({ instance: "i" }) !== null)).toBe(true);
    await b.locks.delete(l.metadata.name);
    expect(await until(() => a.lockIndex.find({ instance: "i" }) === null)).toBe(true);
    await Promise.all([a.close(), b.close()]);
  });
});
