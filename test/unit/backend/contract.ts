// The backend contract, run against every implementation (sqlite.test.ts, postgres.test.ts).
// Each case asserts one rule the auth service's security (or its paging) depends on.

import { expect, test } from "bun:test";
import type { AtomicOp, Backend } from "../../../src/auth/backend/backend.ts";
import { isCode } from "../../../src/util/errors.ts";

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (e) {
    for (const c of ["already_exists", "compare_failed", "not_found", "bad_parameter"] as const)
      if (isCode(e, c)) return c;
    throw e;
  }
}

export function backendContract(name: string, make: () => Promise<Backend>) {
  test(`${name}: create refuses an existing key, get returns what was written`, async () => {
    const b = await make();
    const a = await b.create({ key: "/t/a", value: '{"x":1}' });
    expect(await code(b.create({ key: "/t/a", value: "{}" }))).toBe("already_exists");
    const got = await b.get("/t/a");
    expect(got?.value).toBe('{"x":1}');
    expect(got?.revision).toBe(a.revision);
    expect(await b.get("/t/missing")).toBeNull();
    await b.close();
  });

  test(`${name}: compareAndSwap succeeds once per revision`, async () => {
    const b = await make();
    const a = await b.create({ key: "/c/k", value: "1" });
    const a2 = await b.compareAndSwap(a.revision, { key: "/c/k", value: "2" });
    expect(a2.revision).not.toBe(a.revision);
    expect(await code(b.compareAndSwap(a.revision, { key: "/c/k", value: "3" }))).toBe("compare_failed");
    expect((await b.get("/c/k"))?.value).toBe("2");
    await b.close();
  });

  test(`${name}: concurrent CAS on one revision has exactly one winner`, async () => {
    const b = await make();
    const a = await b.create({ key: "/race", value: "0" });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        code(b.compareAndSwap(a.revision, { key: "/race", value: String(i) })),
      ),
    );
    expect(results.filter((r) => r === "ok").length).toBe(1);
    expect(results.filter((r) => r === "compare_failed").length).toBe(19);
    await b.close();
  });

  test(`${name}: deleteIfRevision consumes once (single-use tokens)`, async () => {
    const b = await make();
    const a = await b.create({ key: "/tok", value: "{}" });
    const results = await Promise.all([1, 2, 3].map(() => code(b.deleteIfRevision("/tok", a.revision))));
    expect(results.sort()).toEqual(["compare_failed", "compare_failed", "ok"]);
    expect(await b.get("/tok")).toBeNull();
    expect(await code(b.delete("/tok"))).toBe("not_found");
    await b.close();
  });

  test(`${name}: a re-created key gets a new revision, so an old CAS cannot succeed (no ABA)`, async () => {
    const b = await make();
    const a = await b.create({ key: "/aba", value: "1" });
    await b.delete("/aba");
    await b.create({ key: "/aba", value: "1" });
    expect(await code(b.compareAndSwap(a.revision, { key: "/aba", value: "x" }))).toBe("compare_failed");
    await b.close();
  });

  test(`${name}: expired items are absent, and their key can be created again`, async () => {
    const b = await make();
    await b.create({ key: "/e/1", value: "1", expires: new Date(Date.now() - 1000) });
    await b.put({ key: "/e/2", value: "2", expires: new Date(Date.now() + 60_000) });
    expect(await b.get("/e/1")).toBeNull();
    expect((await b.list("/e/")).map((i) => i.key)).toEqual(["/e/2"]);
    await b.create({ key: "/e/1", value: "again" });
    expect((await b.get("/e/1"))?.value).toBe("again");
    await b.close();
  });

  test(`${name}: list returns only the prefix, in key order`, async () => {
    const b = await make();
    for (const k of ["/l/b", "/l/a", "/lz", "/m/a", "/l/c"]) await b.put({ key: k, value: "{}" });
    expect((await b.list("/l/")).map((i) => i.key)).toEqual(["/l/a", "/l/b", "/l/c"]);
    await b.close();
  });

  test(`${name}: count counts the live items under a prefix (tauth_bot_instances)`, async () => {
    const b = await make();
    for (const k of ["/c/b", "/c/a", "/cz", "/d/a"]) await b.put({ key: k, value: "{}" });
    await b.put({ key: "/c/old", value: "{}", expires: new Date(Date.now() - 1000) });
    await b.put({ key: "/c/later", value: "{}", expires: new Date(Date.now() + 60_000) });
    // Expired items outside the prefix are not subtracted from it.
    for (const k of ["/b/old", "/cz/old", "/d/old"])
      await b.put({ key: k, value: "{}", expires: new Date(Date.now() - 1000) });
    expect(await b.count?.("/c/")).toBe(3);
    expect(await b.count?.("/d/")).toBe(1);
    expect(await b.count?.("/none/")).toBe(0);
    await b.close();
  });

  test(`${name}: keys sort as bytes (upper case before "_" before lower case before non-ASCII)`, async () => {
    const b = await make();
    for (const k of ["/o/é", "/o/a", "/o/_", "/o/B"]) await b.put({ key: k, value: "{}" });
    expect((await b.list("/o/")).map((i) => i.key)).toEqual(["/o/B", "/o/_", "/o/a", "/o/é"]);
    await b.close();
  });

  test(`${name}: list pages with limit and startAfter; no options is everything`, async () => {
    const b = await make();
    for (const k of ["/p/1", "/p/2", "/p/3", "/p/4", "/p/5", "/p/6", "/p/7", "/q/1"])
      await b.put({ key: k, value: "{}" });
    await b.put({ key: "/p/35", value: "{}", expires: new Date(Date.now() - 1000) });
    const keys = async (o?: { limit?: number; startAfter?: string }) =>
      (await b.list("/p/", o)).map((i) => i.key);
    expect(await keys({ limit: 3 })).toEqual(["/p/1", "/p/2", "/p/3"]);
    // The expired /p/35 is skipped, and does not shorten the page.
    expect(await keys({ limit: 3, startAfter: "/p/3" })).toEqual(["/p/4", "/p/5", "/p/6"]);
    expect(await keys({ limit: 3, startAfter: "/p/6" })).toEqual(["/p/7"]);
    expect(await keys({ limit: 3, startAfter: "/p/7" })).toEqual([]);
    expect(await keys({ startAfter: "/p/5" })).toEqual(["/p/6", "/p/7"]);
    expect(await keys({ limit: 100 })).toHaveLength(7);
    expect(await keys()).toHaveLength(7);
    expect(await code(b.list("/p/", { limit: 0 }))).toBe("bad_parameter");
    expect(await code(b.list("/p/", { limit: 1.5 }))).toBe("bad_parameter");
    await b.close();
  });

  test(`${name}: atomic applies every op when every condition holds`, async () => {
    const b = await make();
    const a = await b.create({ key: "/x/a", value: "1" });
    await b.create({ key: "/x/gone", value: "1" });
    const out = await b.atomic([
      {
        key: "/x/a",
        condition: { kind: "revision", revision: a.revision },
        action: { kind: "put", value: "2" },
      },
      { key: "/x/new", condition: { kind: "absent" }, action: { kind: "put", value: "n" } },
      { key: "/x/gone", condition: { kind: "exists" }, action: { kind: "delete" } },
      { key: "/x/other", condition: { kind: "any" }, action: { kind: "none" } },
    ]);
    expect(out.map((i) => i?.key ?? null)).toEqual(["/x/a", "/x/new", null, null]);
    expect((await b.get("/x/a"))?.revision).toBe(out[0]!.revision);
    expect((await b.get("/x/a"))?.value).toBe("2");
    expect((await b.get("/x/new"))?.value).toBe("n");
    expect(await b.get("/x/gone")).toBeNull();
    await b.close();
  });

  test(`${name}: atomic writes nothing when one condition fails`, async () => {
    const b = await make();
    const a = await b.create({ key: "/y/a", value: "1" });
    await b.compareAndSwap(a.revision, { key: "/y/a", value: "changed" });
    await b.create({ key: "/y/b", value: "b" });
    const ops: AtomicOp[] = [
      { key: "/y/b", condition: { kind: "exists" }, action: { kind: "delete" } },
      { key: "/y/c", condition: { kind: "absent" }, action: { kind: "put", value: "c" } },
      {
        key: "/y/a",
        condition: { kind: "revision", revision: a.revision },
        action: { kind: "put", value: "x" },
      },
    ];
    expect(await code(b.atomic(ops))).toBe("compare_failed");
    expect((await b.get("/y/b"))?.value).toBe("b");
    expect(await b.get("/y/c")).toBeNull();
    expect((await b.get("/y/a"))?.value).toBe("changed");
    expect(
      await code(b.atomic([{ key: "/y/b", condition: { kind: "absent" }, action: { kind: "none" } }])),
    ).toBe("compare_failed");
    expect(
      await code(b.atomic([{ key: "/y/zz", condition: { kind: "exists" }, action: { kind: "delete" } }])),
    ).toBe("compare_failed");
    await b.close();
  });

  test(`${name}: atomic counts an expired item as absent, and refuses malformed op lists`, async () => {
    const b = await make();
    await b.put({ key: "/z/old", value: "1", expires: new Date(Date.now() - 1000) });
    await b.atomic([{ key: "/z/old", condition: { kind: "absent" }, action: { kind: "put", value: "new" } }]);
    expect((await b.get("/z/old"))?.value).toBe("new");
    const op: AtomicOp = { key: "/z/k", condition: { kind: "any" }, action: { kind: "none" } };
    expect(await code(b.atomic([op, op]))).toBe("bad_parameter");
    expect(await code(b.atomic([]))).toBe("bad_parameter");
    await b.close();
  });

  test(`${name}: concurrent atomic writes on one revision have exactly one winner`, async () => {
    const b = await make();
    const a = await b.create({ key: "/r/a", value: "0" });
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        code(
          b.atomic([
            {
              key: "/r/a",
              condition: { kind: "revision", revision: a.revision },
              action: { kind: "put", value: `${i}` },
            },
            { key: `/r/winner`, condition: { kind: "absent" }, action: { kind: "put", value: `${i}` } },
          ]),
        ),
      ),
    );
    expect(results.filter((r) => r === "ok").length).toBe(1);
    expect((await b.get("/r/a"))?.value).toBe((await b.get("/r/winner"))?.value);
    await b.close();
  });

  test(`${name}: purgeExpired removes expired items and only those`, async () => {
    const b = await make();
    for (let i = 0; i < 5; i++)
      await b.put({ key: `/g/old${i}`, value: "{}", expires: new Date(Date.now() - 1000) });
    await b.put({ key: "/g/live", value: "{}", expires: new Date(Date.now() + 60_000) });
    await b.put({ key: "/g/forever", value: "{}" });
    expect(await b.purgeExpired()).toBe(5);
    expect(await b.purgeExpired()).toBe(0);
    expect((await b.list("/g/")).map((i) => i.key)).toEqual(["/g/forever", "/g/live"]);
    await b.close();
  });
}
