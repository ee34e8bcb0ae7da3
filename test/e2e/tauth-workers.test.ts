// tauth with --workers 2 on SQLite: two worker processes share the port (SO_REUSEPORT) and the
// database file. Every request below is its own TLS connection, so the kernel spreads them
// over both workers (X-Tauth-Replica names the worker's PID). What one worker writes, the
// other enforces; a killed worker is started again by the primary; SIGTERM stops them all.

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync } from "node:fs";
import { tauthBin } from "../harness/binary.ts";
import { addBot } from "../harness/extra.ts";
import { type RawIdentity, renew, tokenJoin } from "../harness/identity-api.ts";
import { cleanupAfterFile, run } from "../harness/proc.ts";
import { startTauth, type TauthHandle } from "../harness/tauth.ts";
import { eventually } from "../harness/tauth-replicas.ts";

setDefaultTimeout(60_000);
cleanupAfterFile();

let auth: TauthHandle;
let hostCa: string;

/** Children of `pid` (the workers of a primary). */
function childrenOf(pid: number): number[] {
  const text = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim();
  return text ? text.split(/\s+/).map(Number) : [];
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** One request on a new connection with `id`: its status, body and the worker that answered. */
async function call(id: RawIdentity | undefined, path = "/v1/authorities") {
  const r = await fetch(`https://${auth.addr}${path}`, {
    keepalive: false,
    tls: { ca: hostCa, ...(id ? { cert: id.certPem, key: id.keyPem } : {}) },
  } as RequestInit);
  return { status: r.status, text: await r.text(), replica: r.headers.get("x-tauth-replica") ?? "" };
}

beforeAll(async () => {
  auth = await startTauth({ extraArgs: ["--workers", "2"], clusterName: "workers.test" });
  hostCa = auth.tctl(["auth", "export", "--type=tls-host"]).stdout;
}, 60_000);

afterAll(async () => {
  await auth?.stop();
});

describe("tauth --workers 2", () => {
  test("two workers serve on one port; each new connection may land on either", async () => {
    expect(auth.proc.output()).toMatch(/Auth service is listening .*workers:2/);
    expect(childrenOf(auth.proc.pid)).toHaveLength(2);
    const seen = new Set<string>();
    for (let i = 0; i < 40 && seen.size < 2; i++) seen.add((await call(undefined, "/v1/ping")).replica);
    expect(seen.size).toBe(2);
    // The admin identity was written once, by the primary, before the workers started.
    expect(auth.proc.output().match(/Wrote a new admin identity/g)).toHaveLength(1);
  });

  test("joins and renewals through both workers; the instance's generation advances once per renewal", async () => {
    const token = addBot(auth, "w-bot");
    const joined = await tokenJoin(auth, token);
    if (!joined.ok) throw new Error(joined.message);
    let id = joined.value;
    for (let i = 0; i < 12; i++) {
      const r = await renew(auth, id);
      if (!r.ok) throw new Error(`renewal ${i}: ${r.message}`);
      id = r.value;
    }
    const insts = JSON.parse(auth.tctl(["get", "bot_instances", "--format=json"]).stdout) as {
      status?: { latest_authentication?: { generation?: number } };
    }[];
    expect(insts).toHaveLength(1);
    // A join is generation 1; each renewal one more.
    expect(JSON.stringify(insts[0])).toContain('"generation":13');
    // Both workers answered bots by now (24+ connections spread over two).
    const seen = new Set<string>();
    for (let i = 0; i < 40 && seen.size < 2; i++) seen.add((await call(id)).replica);
    expect(seen.size).toBe(2);
  });

  test("a lock created through one worker is enforced by the other within a poll", async () => {
    const token = addBot(auth, "locked-bot");
    const joined = await tokenJoin(auth, token);
    if (!joined.ok) throw new Error(joined.message);
    const id = joined.value;
    expect((await call(id)).status).toBe(200);
    const lock = auth.tctl(["lock", "--bot", "locked-bot", "--message", "stolen"]);
    expect(lock.code).toBe(0);
    // Every new connection, whichever worker takes it, is refused within a second.
    const refusedBy = new Set<string>();
    const allRefused = await eventually(async () => {
      const rs = await Promise.all(Array.from({ length: 10 }, () => call(id)));
      for (const r of rs) if (r.status === 403 && /is locked: stolen/.test(r.text)) refusedBy.add(r.replica);
      return rs.every((r) => r.status === 403) && refusedBy.size === 2;
    }, 5_000);
    expect(allRefused).toBe(true);
    // And by both: a lock removed through one is lifted on both.
    const name = /Created a lock with name "([^"]+)"/.exec(lock.stdout)?.[1];
    expect(auth.tctl(["rm", `lock/${name}`]).code).toBe(0);
    const lifted = await eventually(async () => {
      const rs = await Promise.all(Array.from({ length: 10 }, () => call(id)));
      return rs.every((r) => r.status === 200);
    }, 5_000);
    expect(lifted).toBe(true);
  });

  test("a killed worker is started again by the primary, and service goes on meanwhile", async () => {
    const [victim, other] = childrenOf(auth.proc.pid);
    process.kill(victim!, "SIGKILL");
    // Connections the kernel had queued at the killed worker are reset (clients retry); once
    // it is gone, every new connection goes to a live worker.
    expect(await eventually(() => !childrenOf(auth.proc.pid).includes(victim!), 5_000, 5)).toBe(true);
    for (let i = 0; i < 5; i++) expect((await call(undefined, "/v1/ping")).status).toBe(200);
    const replaced = () => {
      const c = childrenOf(auth.proc.pid);
      return c.length === 2 && !c.includes(victim!);
    };
    expect(await eventually(replaced, 10_000)).toBe(true);
    const now = childrenOf(auth.proc.pid);
    expect(now).toContain(other!);
    expect(now).not.toContain(victim!);
    await auth.proc.waitFor(/Worker exited; starting it again/);
    const restarted = now.find((p) => p !== other)!;
    await auth.proc.waitFor(new RegExp(`Worker is listening .*replica:\\S+-${restarted}\\b`));
    const seen = new Set<string>();
    for (let i = 0; i < 40 && seen.size < 2; i++) {
      const r = await call(undefined, "/v1/ping");
      if (r.status === 200) seen.add(r.replica);
    }
    expect([...seen].some((r) => r.endsWith(`-${restarted}`))).toBe(true);
    const token = addBot(auth, "after-restart");
    expect((await tokenJoin(auth, token)).ok).toBe(true);
  });

  test("SIGTERM stops the primary and every worker; SIGKILL of the primary takes the workers down", async () => {
    const workers = childrenOf(auth.proc.pid);
    expect(await auth.stop()).toBe(0);
    expect(workers.some(alive)).toBe(false);
    await auth.restart();
    const again = childrenOf(auth.proc.pid);
    expect(again).toHaveLength(2);
    expect((await call(undefined, "/v1/ping")).status).toBe(200);
    auth.proc.proc.kill("SIGKILL");
    await auth.proc.proc.exited;
    expect(await eventually(() => !again.some(alive), 2_000, 20)).toBe(true);
    // The port is free again at once: a new tauth takes it.
    await auth.restart();
    expect((await call(undefined, "/v1/ping")).status).toBe(200);
  });

  test("--workers is checked", () => {
    for (const bad of ["0", "x", "257", "1.5"]) {
      const r = run([tauthBin, "start", "--workers", bad, "--data-dir", "/nonexistent-dir"]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`--workers must be "auto" or a whole number from 1 to 256, got "${bad}"`);
    }
  });
});
