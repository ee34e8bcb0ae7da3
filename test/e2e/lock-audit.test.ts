// A request refused by a lock is audited (request.locked, counted by the console's chart of
// denials), with the bot, instance, lock and remote address and nothing secret; a flood of
// locked requests is aggregated: at most two lines per bot instance per window.

import { beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { freshKey } from "../../src/agent/identity/bot-identity.ts";
import type { RenewRequest } from "../../src/protocol/messages.ts";
import { paths } from "../../src/protocol/messages.ts";
import { addBot, fileScope, oneShot, until } from "../harness/extra.ts";
import { clusterApi, instanceOf, renew, storedIdentity } from "../harness/identity-api.ts";
import type { TauthHandle } from "../harness/tauth.ts";

setDefaultTimeout(60_000);
const scope = fileScope();
let auth: TauthHandle;
let work: string;

function joined(name: string) {
  const data = join(work, `${name}-data`);
  const r = oneShot(auth, { data, dest: join(work, `${name}-out`), token: addBot(auth, name) });
  if (r.code !== 0) throw new Error(`one-shot for ${name} failed: ${r.stderr}`);
  return storedIdentity(data);
}

function lock(bot: string): string {
  const r = auth.tctl(["lock", "--bot", bot, "--message", "compromised host"]);
  expect(r.code).toBe(0);
  return /"([0-9a-f-]{36})"/.exec(r.stdout)![1]!;
}

const lockedOf = (bot: string) =>
  auth.auditLog().filter((e) => e.event === "request.locked" && e.bot === bot);

beforeAll(async () => {
  process.env.TAUTH_LIMITS = "rate_audit_window=5s";
  auth = await scope.tauth();
  delete process.env.TAUTH_LIMITS;
  work = scope.tempDir("lock-audit-");
});

describe("lock denials are audited", () => {
  test("a locked renewal writes request.locked with bot, instance, lock and address", async () => {
    const id = joined("locked1");
    const lockId = lock("locked1");
    const r = await renew(auth, id);
    expect(r.ok).toBe(false);
    expect((r as { code: string }).code).toBe("access_denied");
    await until(() => lockedOf("locked1").length === 1, "request.locked");
    const e = lockedOf("locked1")[0]!;
    expect(e.bot_instance_id).toBe(instanceOf(id));
    expect(e.lock).toBe(lockId);
    expect(e.lock_target).toEqual({ bot: "locked1" });
    expect(String(e.remote_addr)).toStartWith("127.0.0.1:");
    expect(e.refused).toBe(1);
    expect(JSON.stringify(e)).not.toContain("BEGIN");
  });

  test("50 locked requests in a burst: at most two audit lines, counting all 50", async () => {
    const id = joined("flood");
    lock("flood");
    const api = clusterApi(auth, id);
    const key = await freshKey();
    const req: RenewRequest = {
      public_keys: key.publicKeys,
      expires: new Date(Date.now() + 3600_000).toISOString(),
    };
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => api.post(paths.renew, req)));
    expect(results.every((r) => r.status === "rejected")).toBe(true);
    // The window (5 s) ends: the second line carries the other 49.
    await until(() => lockedOf("flood").some((e) => e.aggregated === true), "aggregated line", 20_000);
    const lines = lockedOf("flood");
    expect(lines.length).toBeLessThanOrEqual(2);
    expect(lines.reduce((n, e) => n + (e.refused as number), 0)).toBe(50);
  });
});
