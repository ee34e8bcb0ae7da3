// Unit checks for how tctl shows bots with their instances (src/cli/tctl-bots-format.ts):
// last seen is the newest of joins, renewals and heartbeats; counts are per bot; show lists
// the recent authentications newest first, at most five.

import { describe, expect, test } from "bun:test";
import {
  botsTable,
  botUpdateText,
  type InstanceView,
  instanceSummary,
  instanceText,
  lastSeen,
} from "../../../src/cli/tctl-bots-format.ts";

const auth = (minute: number, generation: number) => ({
  authenticated_at: `2030-01-01T00:${String(minute).padStart(2, "0")}:00.000Z`,
  join_method: "bound_keypair",
  join_token: "example-bk",
  generation,
  remote_addr: `127.0.0.1:${40000 + generation}`,
});

function instance(bot: string, id: string, auths: number, heartbeatMinute?: number): InstanceView {
  const all = Array.from({ length: auths }, (_, i) => auth(i * 2, i + 1));
  return {
    spec: { bot_name: bot, instance_id: id },
    status: {
      generation: auths,
      initial_authentication: all[0],
      latest_authentications: all,
      latest_heartbeats:
        heartbeatMinute === undefined
          ? []
          : [
              {
                recorded_at: `2030-01-01T00:${String(heartbeatMinute).padStart(2, "0")}:30.000Z`,
                hostname: "build-01",
                version: "1.2.3",
                os: "linux",
                architecture: "x64",
                one_shot: false,
              },
            ],
    },
  };
}

describe("bots ls", () => {
  test("instances are counted per bot; last seen is the newest of all; a bot without any says never", () => {
    const bots = [
      { metadata: { name: "a" }, spec: { roles: ["access", "db"] }, status: { user_name: "bot-a" } },
      { metadata: { name: "b" }, spec: { roles: [] } },
    ];
    const table = botsTable(bots, [instance("a", "i1", 2), instance("a", "i2", 1, 50)]);
    const lines = table.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^Bot\s+User\s+Roles\s+Instances\s+Last Seen$/);
    expect(lines[2]).toMatch(/^a\s+bot-a\s+access,db\s+2\s+2030-01-01T00:50:30\.000Z$/);
    expect(lines[3]).toMatch(/^b\s+bot-b\s+\(none\)\s+0\s+never$/);
  });

  test("last seen prefers a later renewal over an earlier heartbeat", () => {
    expect(lastSeen(instance("a", "i", 6, 1))).toBe("2030-01-01T00:10:00.000Z");
  });
});

describe("bots instances show", () => {
  test("summary: first join, latest renewal, heartbeat facts, five newest authentications first", () => {
    const s = instanceSummary(instance("a", "i1", 8, 30));
    expect(s).toMatchObject({
      bot_name: "a",
      instance_id: "i1",
      join_method: "bound_keypair",
      join_token: "example-bk",
      joined_at: "2030-01-01T00:00:00.000Z",
      last_authenticated_at: "2030-01-01T00:14:00.000Z",
      last_seen: "2030-01-01T00:30:30.000Z",
      generation: 8,
      version: "1.2.3",
      hostname: "build-01",
    });
    expect(s.recent_authentications.map((a) => a.generation)).toEqual([8, 7, 6, 5, 4]);
  });

  test("text: labelled lines, and a clear placeholder before the first heartbeat", () => {
    const text = instanceText(instance("a", "i1", 2));
    expect(text).toMatch(/^Bot:\s+a$/m);
    expect(text).toMatch(/^Generation:\s+2$/m);
    expect(text).toMatch(/^Host name:\s+\(no heartbeat yet\)$/m);
    expect(text).toMatch(/^2030-01-01T00:02:00\.000Z\s+bound_keypair\s+2\s+127\.0\.0\.1:40002$/m);
  });
});

test("bots update text says what the bot has now, or that nothing changed", () => {
  const after = { roles: ["access"], logins: [], max_session_ttl: "12h (default)" };
  expect(botUpdateText({ bot: { metadata: { name: "x" } }, changed: ["roles"], after })).toStartWith(
    'Bot "x" has been updated. Roles: access; Logins: (none); Max session TTL: 12h (default)\n',
  );
  expect(botUpdateText({ bot: { metadata: { name: "x" } }, changed: [], after })).toContain(
    "nothing was changed",
  );
});
