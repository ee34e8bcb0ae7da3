// Events a killed replica wrote to its audit.log but not yet to the shared log are sent at
// its next start, under the same IDs (so an event that did land is not doubled), and only the
// previous process's tail is read.

import { afterAll, expect, test } from "bun:test";
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileAuditLog, TeeAuditSink } from "../../../src/auth/audit.ts";
import { unsentTail } from "../../../src/auth/audit-replay.ts";
import { AUDIT_PREFIX, BackendAuditLog } from "../../../src/auth/audit-store.ts";
import { SqliteBackend } from "../../../src/auth/backend/sqlite.ts";

const dir = mkdtempSync(join(tmpdir(), "audit-replay-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A replica's two sinks as the service builds them; `reachable: false` is a kill before the batch. */
function replica(file: string, backend: SqliteBackend) {
  const shared = new BackendAuditLog(backend);
  return { shared, tee: new TeeAuditSink([new FileAuditLog(file), shared], () => shared.nextStamp()) };
}

test("the local line carries the shared log's ID; a restart sends what never reached it, once", async () => {
  const file = join(dir, "audit.log");
  const backend = new SqliteBackend(":memory:");
  const first = replica(file, backend);
  first.tee.emit("auth.start", {});
  first.tee.emit("bot.join", { bot: "a" });
  await first.tee.flush();
  // The next two reach the file only: the process "dies" before their batch is written.
  const dead = new TeeAuditSink([new FileAuditLog(file)], () => first.shared.nextStamp());
  dead.emit("cert.renew", { bot: "a", generation: 2 });
  dead.emit("bot.join", { bot: "b" });
  appendFileSync(file, '{"time":"2030-01-01T00:00:0'); // the torn last line of a kill

  const lines = readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.endsWith("}"));
  const ids = lines.map((l) => JSON.parse(l).audit_id as string);
  expect(ids.every((id) => /Z-[0-9a-z]{4}-[0-9a-f]{12}$/.test(id))).toBe(true);
  expect((await backend.list(AUDIT_PREFIX)).map((i) => i.key)).toEqual(
    ids.slice(0, 2).map((id) => AUDIT_PREFIX + id),
  );

  const tail = unsentTail(file);
  // From the last auth.start on: the two events that landed and the two that did not.
  expect(tail.map((e) => e.id)).toEqual(ids);
  expect(tail.every((e) => !("audit_id" in e.record))).toBe(true);
  const restarted = new BackendAuditLog(backend);
  restarted.replay(tail);
  await restarted.flush();
  const stored = await backend.list(AUDIT_PREFIX);
  expect(stored.map((i) => i.key)).toEqual(ids.map((id) => AUDIT_PREFIX + id));
  const renew = JSON.parse(stored[2]!.value);
  expect(renew).toMatchObject({ event: "cert.renew", bot: "a", generation: 2 });
  expect(renew.audit_id).toBeUndefined();
  await backend.close();
});

test("a missing file, lines from before IDs, and foreign keys are skipped", () => {
  expect(unsentTail(join(dir, "none.log"))).toEqual([]);
  const file = join(dir, "old.log");
  appendFileSync(
    file,
    [
      '{"time":"2030-01-01T00:00:00.000Z","event":"bot.join","bot":"x"}',
      '{"time":"2030-01-01T00:00:01.000Z","event":"bot.join","audit_id":"../../tokens/x"}',
      "",
    ].join("\n"),
  );
  expect(unsentTail(file)).toEqual([]);
});
