// Unit checks for `tctl bots update` (src/auth/bot-update.ts) over a real SQLite backend:
// what each flag does to the bot, what is refused before any write, the compare-and-swap on a
// concurrent change, and the bot.update audit event; and the tctl side (flags → request).

import { describe, expect, test } from "bun:test";
import { SqliteBackend } from "../../../src/auth/backend/sqlite.ts";
import {
  type BotUpdateDeps,
  type BotUpdateRequest,
  checkBotUpdateRequest,
  planBotUpdate,
  updateBot,
} from "../../../src/auth/bot-update.ts";
import type { BotResource, RoleResource } from "../../../src/auth/resources/index.ts";
import { Collection } from "../../../src/auth/store/collection.ts";
import { botUpdateRequest } from "../../../src/cli/tctl-bots.ts";

function bot(spec: Partial<BotResource["spec"]> = {}): BotResource {
  return {
    kind: "bot",
    version: "v1",
    metadata: { name: "example" },
    spec: { roles: [], traits: [], ...spec },
    status: { user_name: "bot-example", role_name: "bot-example" },
  };
}

const role = (name: string) =>
  ({ kind: "role", version: "v7", metadata: { name }, spec: { allow: {}, deny: {} } }) as RoleResource;

async function setup(initial = bot()) {
  const backend = new SqliteBackend(":memory:");
  const bots = new Collection<BotResource>(backend, "/bots/");
  const roles = new Collection<RoleResource>(backend, "/roles/");
  for (const r of ["access", "db"]) await roles.put(r, role(r));
  await bots.put("example", initial);
  const events: { event: string; fields: Record<string, unknown> }[] = [];
  const deps: BotUpdateDeps = {
    bots,
    roles,
    audit: { emit: (event, fields) => events.push({ event, fields }) },
  };
  return { backend, bots, deps, events };
}

const req = (r: Omit<BotUpdateRequest, "name">): BotUpdateRequest => ({ name: "example", ...r });

describe("planning an update", () => {
  test("add appends without duplicates; set replaces; other traits are kept; empty logins drop the trait", () => {
    const b = bot({
      roles: ["access"],
      traits: [
        { name: "db_users", values: ["reader"] },
        { name: "logins", values: ["root"] },
      ],
    });
    const added = planBotUpdate(b, req({ add_roles: ["db", "access"], add_logins: ["root", "ubuntu"] }));
    expect(added.spec.roles).toEqual(["access", "db"]);
    expect(added.spec.traits).toEqual([
      { name: "db_users", values: ["reader"] },
      { name: "logins", values: ["root", "ubuntu"] },
    ]);
    const set = planBotUpdate(b, req({ set_roles: [], set_logins: [] }));
    expect(set.spec.roles).toEqual([]);
    expect(set.spec.traits).toEqual([{ name: "db_users", values: ["reader"] }]);
    expect(b.spec.roles).toEqual(["access"]); // the input is not changed
  });

  test("max_session_ttl is set as spelled; 0 returns to the default", () => {
    const withTtl = planBotUpdate(bot(), req({ max_session_ttl: "24h" }));
    expect(withTtl.spec.max_session_ttl).toBe("24h");
    expect(planBotUpdate(withTtl, req({ max_session_ttl: "0" })).spec.max_session_ttl).toBeUndefined();
  });

  test("request checks: no flags lists them; conflicts, empty adds and bad durations are refused", () => {
    const refused = (r: BotUpdateRequest) => {
      try {
        checkBotUpdateRequest(r);
      } catch (e) {
        return (e as Error).message;
      }
      return "accepted";
    };
    expect(refused(req({}))).toBe(
      "nothing to update; use one or more of --add-roles, --set-roles, --add-logins, --set-logins, --set-max-session-ttl",
    );
    expect(refused(req({ add_roles: ["a"], set_roles: ["b"] }))).toContain("cannot be used together");
    expect(refused(req({ add_logins: ["a"], set_logins: ["b"] }))).toContain("cannot be used together");
    expect(refused(req({ add_roles: [] }))).toContain("needs at least one role");
    expect(refused(req({ set_logins: [""] }))).toBe("logins must not be empty");
    expect(refused(req({ max_session_ttl: "soon" }))).toContain('invalid duration "soon"');
    expect(refused(req({ max_session_ttl: "169h" }))).toContain("at most 168h");
    expect(refused(req({ set_roles: [] }))).toBe("accepted"); // back to a roleless bot
    expect(refused(req({ max_session_ttl: "168h" }))).toBe("accepted");
  });
});

describe("updating a stored bot", () => {
  test("an unknown role is refused by name and nothing is written or audited", async () => {
    const { bots, deps, events } = await setup();
    const before = (await bots.get("example"))!;
    await expect(updateBot(deps, req({ add_roles: ["access", "nope"] }), "admin")).rejects.toThrow(
      'role "nope" does not exist; create it first with tctl create',
    );
    const after = (await bots.get("example"))!;
    expect(after.revision).toBe(before.revision);
    expect(after.value).toEqual(before.value);
    expect(events).toEqual([]);
  });

  test("an unknown bot is not found", async () => {
    const { deps } = await setup();
    await expect(updateBot(deps, { name: "ghost", add_roles: ["access"] }, "admin")).rejects.toThrow(
      'bot "ghost" not found',
    );
  });

  test("a change is stored and audited with what changed; the same request again changes nothing", async () => {
    const { bots, deps, events } = await setup();
    const r = await updateBot(deps, req({ add_roles: ["access"], set_logins: ["root"] }), "admin:1");
    expect(r.changed).toEqual(["roles", "logins"]);
    expect(r.after).toEqual({ roles: ["access"], logins: ["root"], max_session_ttl: "12h (default)" });
    const stored = (await bots.get("example"))!.value;
    expect(stored.spec.roles).toEqual(["access"]);
    expect(stored.spec.traits).toEqual([{ name: "logins", values: ["root"] }]);
    expect(stored.status).toEqual({ user_name: "bot-example", role_name: "bot-example" });
    expect(events).toEqual([
      {
        event: "bot.update",
        fields: {
          bot: "example",
          changes: { roles: { from: [], to: ["access"] }, logins: { from: [], to: ["root"] } },
          by: "admin:1",
        },
      },
    ]);
    const rev = (await bots.get("example"))!.revision;
    const again = await updateBot(deps, req({ add_roles: ["access"] }), "admin:1");
    expect(again.changed).toEqual([]);
    expect((await bots.get("example"))!.revision).toBe(rev);
    expect(events).toHaveLength(1);
  });

  test("a concurrent change between read and write is not lost: the update is planned again on it", async () => {
    const { bots, deps } = await setup();
    let raced = false;
    const racing: BotUpdateDeps = {
      ...deps,
      bots: {
        async get(name) {
          const cur = await bots.get(name);
          if (!raced) {
            raced = true; // another admin adds "db" right after our read
            await bots.put(name, bot({ roles: ["db"] }));
          }
          return cur;
        },
        compareAndSwap: (...a) => bots.compareAndSwap(...a),
      },
    };
    const r = await updateBot(racing, req({ add_roles: ["access"] }), "admin");
    expect(raced).toBe(true);
    expect((await bots.get("example"))!.value.spec.roles).toEqual(["db", "access"]);
    expect(r.after.roles).toEqual(["db", "access"]);
  });
});

describe("tctl bots update flags", () => {
  test("flags become the request; set with an empty value clears; bots add flags are pointed elsewhere", () => {
    expect(
      botUpdateRequest(["example"], {
        "add-roles": "access, db",
        "set-logins": "",
        "set-max-session-ttl": "24h",
      }),
    ).toEqual({ name: "example", add_roles: ["access", "db"], set_logins: [], max_session_ttl: "24h" });
    expect(() => botUpdateRequest(["example"], { roles: "access" })).toThrow(
      '--roles is for "tctl bots add"; with bots update use --set-roles or --add-roles',
    );
    expect(() => botUpdateRequest([], { "add-roles": "access" })).toThrow("expected exactly one bot name");
  });
});
