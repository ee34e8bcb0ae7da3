// The backend contract, run against every implementation (SQLite now; PostgreSQL with the
// same cases). Each case asserts one rule the auth service's security depends on.

import { expect, test } from "bun:test";
import type { Backend } from "../../../src/auth/backend/backend.ts";
import { isCode } from "../../../src/util/errors.ts";

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (e) {
    for (const c of ["already_exists", "compare_failed", "not_found"] as const) if (isCode(e, c)) return c;
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
}
