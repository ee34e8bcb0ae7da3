// Admin listings a page at a time (src/auth/api/admin-list.ts): every kind pages to the
// complete set, filters hold across pages, token cursors are hashes, a request without a
// limit gets one default page; removals page through a bot's instances; and tctl's side
// (src/cli/tctl-paging.ts, tctl-audit.ts) follows cursors and checks its flags.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getResources, type ListRequest } from "../../../src/auth/api/admin-list.ts";
import { deleteResource, putResource } from "../../../src/auth/api/admin-resources.ts";
import { createLock } from "../../../src/auth/locks.ts";
import { AuthService } from "../../../src/auth/service.ts";
import type { AdminIdentity, BotInstance } from "../../../src/auth/store/types.ts";
import { auditRequest, auditTextLine, auditTime } from "../../../src/cli/tctl-audit.ts";
import { pageSize, pages } from "../../../src/cli/tctl-paging.ts";
import { adminSchemas, DEFAULT_ADMIN_PAGE } from "../../../src/protocol/admin-messages.ts";
import type { ApiClient } from "../../../src/protocol/client.ts";

let base: string;
let svc: AuthService;

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), "admin-paging-"));
  svc = await AuthService.open({ dataDir: join(base, "data"), clusterName: "unit.test" });
});
afterAll(async () => {
  await svc.close();
  rmSync(base, { recursive: true, force: true });
});

const instance = (bot: string, id: string): BotInstance => {
  const auth = {
    authenticated_at: "2030-01-01T00:00:00.000Z",
    join_method: "token",
    join_token: "",
    generation: 1,
    public_key: "",
  };
  return {
    kind: "bot_instance",
    version: "v1",
    metadata: { name: id },
    spec: { bot_name: bot, instance_id: id },
    status: {
      generation: 1,
      initial_authentication: auth,
      latest_authentications: [auth],
      latest_heartbeats: [],
    } as BotInstance["status"],
  };
};

const addInstance = (bot: string, id: string) => svc.instances.put(`${bot}/${id}`, instance(bot, id));

/** Every page of a listing: the resources, the cursors, and how many requests. */
async function walk(req: ListRequest) {
  const resources: Record<string, unknown>[] = [];
  const cursors: string[] = [];
  let start: string | undefined;
  do {
    const r = await getResources(svc, { ...req, start_after: start });
    resources.push(...(r.resources as Record<string, unknown>[]));
    start = r.next;
    if (start !== undefined) cursors.push(start);
  } while (start !== undefined);
  return { resources, cursors, requests: cursors.length + 1 };
}

const names = (rs: Record<string, unknown>[]) => rs.map((r) => (r.metadata as { name: string }).name);

describe("admin listings page to the complete set", () => {
  test("bots: 12 in pages of 5", async () => {
    for (let i = 0; i < 12; i++)
      await svc.bots.put(`bot-${String(i).padStart(2, "0")}`, {
        kind: "bot",
        version: "v1",
        metadata: { name: `bot-${String(i).padStart(2, "0")}` },
        spec: { roles: [], traits: [] },
      });
    const { resources, requests } = await walk({ kind: "bots", limit: 5 });
    expect(names(resources)).toEqual([...Array(12).keys()].map((i) => `bot-${String(i).padStart(2, "0")}`));
    expect(requests).toBe(3);
  });

  test("tokens: used ones left out, secret names masked, cursors are hashes", async () => {
    const secrets: string[] = [];
    for (let i = 0; i < 9; i++) {
      const name = `secret-token-${i}-${crypto.randomUUID()}`;
      secrets.push(name);
      await putResource(
        svc,
        {
          kind: "token",
          version: "v2",
          metadata: { name },
          spec: { roles: ["Bot"], join_method: "token", bot_name: "bot-00" },
        },
        false,
        "unit",
      );
    }
    const used = (await svc.tokens.get(secrets[0]!))!;
    await svc.tokens.put(secrets[0]!, { ...used.value, consumed_at: new Date().toISOString() });
    const { resources, cursors } = await walk({ kind: "token", limit: 4 });
    expect(resources.length).toBe(8);
    for (const n of names(resources)) expect(n).toMatch(/^sha256:[0-9a-f]{16}$/);
    const text = JSON.stringify({ resources, cursors });
    for (const s of secrets) expect(text).not.toContain(s);
    for (const c of cursors) expect(c).toMatch(/^[0-9a-f]{64}$/);
  });

  test("bot instances: one bot's key range, a bare ID found on a later page, BOT/ID as one lookup", async () => {
    for (let i = 0; i < 7; i++) await addInstance("alpha", `a-${i}`);
    for (let i = 0; i < 5; i++) await addInstance("beta", `b-${i}`);
    const beta = await walk({ kind: "bot_instance", bot: "beta", limit: 2 });
    expect(beta.resources.map((r) => (r.spec as { instance_id: string }).instance_id)).toEqual([
      "b-0",
      "b-1",
      "b-2",
      "b-3",
      "b-4",
    ]);
    const byId = await walk({ kind: "bot_instance", name: "b-3", limit: 2 });
    expect(byId.resources.length).toBe(1);
    expect(byId.requests).toBeGreaterThan(1);
    const byName = await walk({ kind: "bot_instance", name: "alpha", limit: 3 });
    expect(byName.resources.length).toBe(7);
    const direct = await getResources(svc, { kind: "bot_instance", name: "alpha/a-6" });
    expect(direct).toEqual({ resources: [instance("alpha", "a-6")] });
    expect((await walk({ kind: "bot_instances", limit: 5 })).resources.length).toBe(12);
  });

  test("admin identities: paged, a locked one shows its lock", async () => {
    for (let i = 0; i < 4; i++) {
      const id = `00000000-0000-0000-0000-00000000000${i}`;
      const rec: AdminIdentity = {
        kind: "admin_identity",
        version: "v1",
        metadata: { name: id, expires: "2099-01-01T00:00:00.000Z" },
        spec: { created_at: "", created_by: "unit", os_user: "u", host: "h", file: "f", serial: "1" },
      };
      await svc.adminIdentities.put(id, rec);
    }
    const lock = await createLock(
      svc,
      { admin_identity: "00000000-0000-0000-0000-000000000002" },
      "no",
      "unit",
    );
    const { resources } = await walk({ kind: "admin_identities", limit: 3 });
    const locked = resources.filter((r) => (r.status as { locked_by?: string } | undefined)?.locked_by);
    expect(names(locked)).toEqual(["00000000-0000-0000-0000-000000000002"]);
    expect((locked[0]!.status as { locked_by: string }).locked_by).toBe(lock.metadata.name);
    expect((await walk({ kind: "locks", limit: 1 })).resources.length).toBe(1);
  });

  test("a request without a limit gets one default page and a cursor; the schema caps the limit", async () => {
    for (let i = 0; i <= DEFAULT_ADMIN_PAGE; i++)
      await addInstance("gamma", `g-${String(i).padStart(4, "0")}`);
    const first = await getResources(svc, { kind: "bot_instance", bot: "gamma" });
    expect(first.resources.length).toBe(DEFAULT_ADMIN_PAGE);
    expect(first.next).toBeDefined();
    expect(() => adminSchemas.get.parse({ kind: "bot", limit: 1001 }, "")).toThrow(
      /limit must be between 1 and 1000/,
    );
    expect(() => adminSchemas.get.parse({ kind: "bot", limit: 0 }, "")).toThrow();
  });

  test("a bare instance ID is found past the first page; removing a bot removes its instances across pages", async () => {
    // alpha's 7 and beta's 5 come first: gamma/g-0500 is the 513th key, on the second page.
    await deleteResource(svc, "bot_instance", "g-0500", "unit");
    expect(await svc.instances.get("gamma/g-0500")).toBeNull();
    expect(await svc.instances.get("gamma/g-0499")).not.toBeNull();
    await svc.bots.put("gamma", {
      kind: "bot",
      version: "v1",
      metadata: { name: "gamma" },
      spec: { roles: [], traits: [] },
    });
    await deleteResource(svc, "bot", "gamma", "unit");
    expect((await svc.instances.listPage({ limit: 1, subPrefix: "gamma/" })).items).toEqual([]);
    expect((await svc.instances.listPage({ limit: 20 })).items.length).toBe(12);
  });
});

/** A stand-in for the admin API: a fixed list served in pages, with the requests it saw. */
function fakeApi(items: number[], next?: (start: string | undefined) => string | undefined) {
  const seen: Record<string, unknown>[] = [];
  const api = {
    addr: "test",
    async post(_path: string, body: Record<string, unknown>) {
      seen.push(body);
      const from = body.start_after === undefined ? 0 : Number(body.start_after);
      const page = items.slice(from, from + (body.limit as number));
      const end = from + page.length;
      const cursor = next
        ? next(body.start_after as string | undefined)
        : end < items.length
          ? String(end)
          : undefined;
      return cursor === undefined ? { resources: page } : { resources: page, next: cursor };
    },
  } as unknown as ApiClient;
  return { api, seen };
}

describe("tctl pages through", () => {
  test("follows cursors to the end with the page size asked for", async () => {
    const { api, seen } = fakeApi([...Array(25).keys()]);
    const got: number[] = [];
    for await (const p of pages<number>(api, "get", { kind: "bot" }, "resources", 10)) got.push(...p);
    expect(got).toEqual([...Array(25).keys()]);
    expect(seen.map((b) => b.start_after)).toEqual([undefined, "10", "20"]);
    expect(seen.every((b) => b.limit === 10 && b.kind === "bot")).toBe(true);
  });

  test("a cursor that does not move is an error, not an endless loop", async () => {
    const { api } = fakeApi([1, 2, 3], () => "same");
    const run = async () => {
      for await (const _ of pages(api, "get", {}, "resources", 1));
    };
    await expect(run()).rejects.toThrow(/same page cursor twice/);
  });

  test("TCTL_PAGE_SIZE: 1 to 1000", () => {
    expect(pageSize({})).toBe(DEFAULT_ADMIN_PAGE);
    expect(pageSize({ TCTL_PAGE_SIZE: "7" })).toBe(7);
    for (const bad of ["0", "1001", "x", "2.5"])
      expect(() => pageSize({ TCTL_PAGE_SIZE: bad })).toThrow(/TCTL_PAGE_SIZE/);
  });

  test("audit ls flags: durations back from now, RFC 3339 as given, kinds as a list", () => {
    const now = Date.parse("2030-01-01T12:00:00Z");
    expect(auditTime("since", "2h", now)).toBe("2030-01-01T10:00:00.000Z");
    expect(auditTime("until", "2030-01-01T11:00:00+01:00", now)).toBe("2030-01-01T10:00:00.000Z");
    expect(() => auditTime("since", "yesterday", now)).toThrow(/--since must be a duration/);
    expect(auditRequest({ since: "1h", kind: "bot.update,lock.create", bot: "robot" }, now)).toEqual({
      since: "2030-01-01T11:00:00.000Z",
      kinds: ["bot.update", "lock.create"],
      bot: "robot",
    });
    expect(() => auditRequest({ since: "1h", until: "2h" }, now)).toThrow(/--since .* is after --until/);
  });

  test("audit ls text: time, kind, bot and who did it, then the other fields", () => {
    const line = auditTextLine({
      event_id: "x",
      time: "2030-01-01T00:00:00.000Z",
      event: "bot.update",
      bot: "robot",
      by: "admin:1",
      changes: { logins: { to: ["root"] } },
    });
    expect(line).toMatch(
      /^2030-01-01T00:00:00\.000Z\s+bot\.update\s+robot \(by admin:1\)\s+changes=\{"logins":\{"to":\["root"\]\}\}$/,
    );
  });
});
