// The audit log in the backend: keys that sort by time and never collide between replicas,
// batched writes that flush() waits for, expiry for retention, an outage that loses events
// without throwing; and reading it a page at a time by time, kind and bot, never scanning
// more than the budget per request.

import { describe, expect, test } from "bun:test";
import { AUDIT_SCAN_BUDGET, type AuditEntry, queryAudit } from "../../../src/auth/audit-query.ts";
import { AUDIT_PREFIX, auditId, BackendAuditLog } from "../../../src/auth/audit-store.ts";
import type { Backend, ListOptions } from "../../../src/auth/backend/backend.ts";
import { SqliteBackend } from "../../../src/auth/backend/sqlite.ts";

const T0 = Date.parse("2030-01-01T00:00:00.000Z");
const at = (s: number) => new Date(T0 + s * 1000);

/** A clock the test moves by hand. */
function clock(start = T0) {
  let now = start;
  return { now: () => now, set: (ms: number) => (now = ms) };
}

/** Every event of a query, all pages; and how many requests it took. */
async function all(b: Backend, q: Omit<Parameters<typeof queryAudit>[1], "startAfter">) {
  const events: AuditEntry[] = [];
  let startAfter: string | undefined;
  let requests = 0;
  do {
    const page = await queryAudit(b, { ...q, startAfter });
    events.push(...page.events);
    startAfter = page.next;
    requests++;
  } while (startAfter !== undefined);
  return { events, requests };
}

describe("writing", () => {
  test("ids sort by time, then by order within a millisecond; the random part keeps replicas apart", () => {
    expect(auditId(at(1), 0, "aa")).toBe("2030-01-01T00:00:01.000Z-0000-aa");
    const [late, tenth, second, first] = [
      auditId(at(2), 0),
      auditId(at(1), 10),
      auditId(at(1), 2),
      auditId(at(1), 1),
    ];
    expect([late, tenth, second, first].sort()).toEqual([first, second, tenth, late]);
    expect(auditId(at(1), 0)).not.toBe(auditId(at(1), 0));
  });

  test("events are in the backend after flush, in order, with the retention as expiry", async () => {
    const b = new SqliteBackend(":memory:");
    const c = clock();
    const log = new BackendAuditLog(b, { now: c.now, retentionMs: 86_400_000 });
    for (let i = 0; i < 200; i++) log.emit("bot.join", { bot: "robot", n: i }); // more than one batch
    await log.flush();
    const items = await b.list(AUDIT_PREFIX);
    expect(items.map((i) => JSON.parse(i.value).n)).toEqual([...Array(200).keys()]);
    expect(items[0]!.expires?.getTime()).toBe(T0 + 86_400_000);
    expect(JSON.parse(items[0]!.value)).toEqual({
      time: at(0).toISOString(),
      event: "bot.join",
      bot: "robot",
      n: 0,
    });
    await b.close();
  });

  test("a clock going back never reorders one replica's events", async () => {
    const b = new SqliteBackend(":memory:");
    const c = clock(T0 + 5000);
    const log = new BackendAuditLog(b, { now: c.now });
    log.emit("a", {});
    c.set(T0);
    log.emit("b", {});
    await log.flush();
    expect((await b.list(AUDIT_PREFIX)).map((i) => JSON.parse(i.value).event)).toEqual(["a", "b"]);
    await b.close();
  });

  test("two replicas writing in the same millisecond: every event kept", async () => {
    const b = new SqliteBackend(":memory:");
    const replicas = [new BackendAuditLog(b, { now: () => T0 }), new BackendAuditLog(b, { now: () => T0 })];
    for (let i = 0; i < 50; i++) for (const [r, log] of replicas.entries()) log.emit("x", { r, i });
    await Promise.all(replicas.map((r) => r.flush()));
    expect((await b.list(AUDIT_PREFIX)).length).toBe(100);
    await b.close();
  });

  test("a backend that fails: emit and flush never throw; the next events are written again", async () => {
    const b = new SqliteBackend(":memory:");
    let down = true;
    const flaky = new Proxy(b, {
      get(t, p) {
        if (p === "atomic" && down) return async () => Promise.reject(new Error("database unavailable"));
        const v = Reflect.get(t, p);
        return typeof v === "function" ? v.bind(t) : v;
      },
    });
    const log = new BackendAuditLog(flaky);
    log.emit("lost", {});
    await log.flush();
    down = false;
    log.emit("kept", {});
    await log.flush();
    expect((await b.list(AUDIT_PREFIX)).map((i) => JSON.parse(i.value).event)).toEqual(["kept"]);
    await b.close();
  });
});

describe("reading", () => {
  async function seeded() {
    const b = new SqliteBackend(":memory:");
    const c = clock();
    const log = new BackendAuditLog(b, { now: c.now });
    // One event a second for 100 seconds: every tenth a bot.update of "robot", the rest joins.
    for (let s = 0; s < 100; s++) {
      c.set(at(s).getTime());
      if (s % 10 === 0) log.emit("bot.update", { bot: "robot", s });
      else log.emit("bot.join", { bot: s % 2 ? "odd" : "even", s });
    }
    await log.flush();
    return b;
  }

  test("pages return everything once, in time order", async () => {
    const b = await seeded();
    const { events, requests } = await all(b, { limit: 7 });
    expect(events.map((e) => e.s)).toEqual([...Array(100).keys()]);
    expect(requests).toBe(15);
    expect(new Set(events.map((e) => e.event_id)).size).toBe(100);
    await b.close();
  });

  test("since and until bound the range, both inclusive", async () => {
    const b = await seeded();
    const { events } = await all(b, { since: at(20), until: at(29), limit: 3 });
    expect(events.map((e) => e.s)).toEqual([20, 21, 22, 23, 24, 25, 26, 27, 28, 29]);
    await b.close();
  });

  test("kind and bot filter across pages", async () => {
    const b = await seeded();
    expect((await all(b, { kinds: ["bot.update"], limit: 4 })).events.map((e) => e.s)).toEqual([
      0, 10, 20, 30, 40, 50, 60, 70, 80, 90,
    ]);
    const odd = (await all(b, { bot: "odd", since: at(50), limit: 100 })).events;
    expect(odd.map((e) => e.s)).toEqual([
      51, 53, 55, 57, 59, 61, 63, 65, 67, 69, 71, 73, 75, 77, 79, 81, 83, 85, 87, 89, 91, 93, 95, 97, 99,
    ]);
    expect(
      (await all(b, { kinds: ["bot.update", "bot.join"], bot: "robot", limit: 100 })).events.length,
    ).toBe(10);
    await b.close();
  });

  test("a rare kind among many events: each request reads at most the scan budget, and carries on", async () => {
    const b = new SqliteBackend(":memory:");
    const log = new BackendAuditLog(b);
    const total = AUDIT_SCAN_BUDGET * 2 + 10;
    for (let i = 0; i < total; i++) log.emit(i === total - 1 ? "rare" : "common", { i });
    await log.flush();
    let read = 0;
    let most = 0;
    const counting = new Proxy(b, {
      get(t, p) {
        if (p === "list")
          return async (prefix: string, o?: ListOptions) => {
            const items = await t.list(prefix, o);
            read += items.length;
            return items;
          };
        const v = Reflect.get(t, p);
        return typeof v === "function" ? v.bind(t) : v;
      },
    });
    const events: AuditEntry[] = [];
    let startAfter: string | undefined;
    do {
      read = 0;
      const page = await queryAudit(counting, { kinds: ["rare"], limit: 50, startAfter });
      most = Math.max(most, read);
      events.push(...page.events);
      startAfter = page.next;
    } while (startAfter !== undefined);
    expect(events.map((e) => e.i)).toEqual([total - 1]);
    expect(most).toBeLessThanOrEqual(AUDIT_SCAN_BUDGET);
    await b.close();
  });
});
