// High availability, part 2: the database goes away under running replicas. Each must serve
// again without a restart of its own: after every one of its connections is killed and the
// server restarted, and after a failover to a promoted standby (the conn string lists both
// hosts with target_session_attrs=read-write). No replica may spin on read-only errors, and
// locks still reach every replica afterwards (the change feed followed them).

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { freshKey } from "../../src/agent/identity/bot-identity.ts";
import { addBot } from "../harness/extra.ts";
import { type HaproxyHandle, startHaproxy } from "../harness/haproxy.ts";
import { type RawIdentity, tokenJoin } from "../harness/identity-api.ts";
import { type PgServer, startPostgres, stopAllPostgres } from "../harness/postgres.ts";
import { cleanupAfterFile } from "../harness/proc.ts";
import {
  deniedAsLocked,
  eventually,
  type Replica,
  readyz,
  startReplica,
  tauthDatabase,
  terminateTauthSessions,
  via,
} from "../harness/tauth-replicas.ts";

setDefaultTimeout(60_000);
afterAll(stopAllPostgres);
cleanupAfterFile();

const PASSWORD = "ha-db-Pa55";
/** How long a replica may take to serve again; polled, so it passes as soon as they do. */
const RECOVERY_MS = 10_000;

async function joinedBot(r: Replica, name: string): Promise<RawIdentity> {
  const j = await tokenJoin(r, addBot(r, name), await freshKey());
  if (!j.ok) throw new Error(`${name} join failed: ${j.message}`);
  return j.value;
}

/** Every replica answers /readyz with 200 and serves a write (tctl bots add) through `lb`. */
async function allServing(replicas: Replica[], lb: HaproxyHandle, bot: string): Promise<boolean> {
  for (const r of replicas) if ((await readyz(r.addr)).status !== 200) return false;
  return via(lb.addr, replicas[0]!).tctl(["bots", "add", bot, "--roles=access", "--format=json"]).code === 0;
}

/** A lock made through replicas[0] reaches replicas[1] (polled up to RECOVERY_MS); then removed. */
async function lockReaches(replicas: Replica[], bot: string, id: RawIdentity): Promise<boolean> {
  const [a, b] = replicas as [Replica, Replica];
  const made = a.tctl(["lock", `--bot=${bot}`, "--message=ha test"]);
  if (made.code !== 0) throw new Error(`tctl lock failed: ${made.stderr}`);
  const reached = await eventually(() => deniedAsLocked(b, id), RECOVERY_MS);
  const name = /"([^"]+)"/.exec(made.stdout)?.[1];
  a.tctl(["rm", `lock/${name}`]);
  return reached;
}

describe("killed connections, then a restart of the database", () => {
  let pg: PgServer;
  let replicas: Replica[];
  let lb: HaproxyHandle;
  let bot: RawIdentity;

  beforeAll(async () => {
    pg = await startPostgres();
    const url = tauthDatabase(pg, PASSWORD);
    const first = await startReplica({ connString: url, id: "a" });
    replicas = [first, await startReplica({ connString: url, id: "b" })];
    lb = await startHaproxy(replicas.map((r) => ({ name: r.id, port: r.port })));
    await lb.waitFor("UP");
    bot = await joinedBot(first, "survivor");
  }, 60_000);

  test("every tauth session killed, then PostgreSQL restarted: the replicas serve again by themselves", async () => {
    const pids = replicas.map((r) => r.proc.pid);
    expect(terminateTauthSessions(pg)).toBeGreaterThan(0);
    await pg.stop();
    await pg.restart();
    expect(await eventually(() => allServing(replicas, lb, "after-restart"), RECOVERY_MS)).toBe(true);
    // Served by the processes that were running all along.
    expect(replicas.map((r) => r.proc.pid)).toEqual(pids);
    for (const r of replicas) expect(r.proc.proc.exitCode).toBeNull();
    await lb.waitFor("UP");
  });

  test("and a lock made on one replica still reaches the other (the change feed reconnected)", async () => {
    expect(await lockReaches(replicas, "survivor", bot)).toBe(true);
  });
});

describe("failover to a promoted standby", () => {
  let primary: PgServer;
  let standby: PgServer;
  let replicas: Replica[];
  let lb: HaproxyHandle;
  let bot: RawIdentity;

  beforeAll(async () => {
    primary = await startPostgres();
    tauthDatabase(primary, PASSWORD);
    standby = await startPostgres({ standbyOf: primary });
    const both =
      `postgresql://tauth:${PASSWORD}@127.0.0.1:${primary.port},127.0.0.1:${standby.port}/tauth` +
      "?target_session_attrs=read-write";
    const first = await startReplica({ connString: both, id: "a" });
    replicas = [first, await startReplica({ connString: both, id: "b" })];
    expect(first.proc.output()).toContain(
      `storage:postgresql://tauth@127.0.0.1:${primary.port},127.0.0.1:${standby.port}/tauth`,
    );
    lb = await startHaproxy(replicas.map((r) => ({ name: r.id, port: r.port })));
    await lb.waitFor("UP");
    bot = await joinedBot(first, "migrant");
  }, 60_000);

  test("the primary stops and the standby is promoted: the replicas move to it and serve, without read-only errors", async () => {
    await primary.stop();
    standby.psql("SELECT pg_promote()");
    expect(await eventually(() => allServing(replicas, lb, "after-failover"), RECOVERY_MS)).toBe(true);
    for (const r of replicas) {
      expect(r.proc.proc.exitCode).toBeNull();
      expect(r.proc.output()).toContain(
        `moved to the writable server from:127.0.0.1:${primary.port} to:127.0.0.1:${standby.port}`,
      );
      // Never pointed at the standby while it was one: not one read-only error.
      expect(r.proc.output()).not.toContain("read-only");
    }
    // The cluster is the one it was: the bot made before the failover is there.
    expect(via(lb.addr, replicas[0]!).tctl(["get", "bots", "--format=json"]).stdout).toContain("migrant");
  });

  test("and a lock made on one replica reaches the other (LISTEN moved to the new primary)", async () => {
    expect(await lockReaches(replicas, "migrant", bot)).toBe(true);
  });
});
