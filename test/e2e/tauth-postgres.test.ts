// tauth on PostgreSQL, on the compiled binary: started with --conn-string (and from tauth.yaml),
// tctl status, a bot joining with a token, a second replica on the same database serving the
// same cluster, the database restarting under it, a restart keeping state; and the one line (exit 1, no stack, no password,
// nothing written) for each database tauth cannot start on.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SCHEMA_VERSION } from "../../src/auth/backend/postgres-schema.ts";
import { tauthBin } from "../harness/binary.ts";
import { legacyArgs } from "../harness/extra.ts";
import { type PgServer, startPostgres, stopAllPostgres } from "../harness/postgres.ts";
import { cleanupAfterFile, freePort, run, tempDir } from "../harness/proc.ts";
import { startTauth, type TauthHandle } from "../harness/tauth.ts";

// Graceful PostgreSQL stop first; cleanupAfterFile's SIGKILL sweep after it.
afterAll(stopAllPostgres);
cleanupAfterFile();

const PASSWORD = "e2e-Pa55-not-in-logs";
let pg: PgServer;
let url: string;

beforeAll(async () => {
  pg = await startPostgres();
  pg.createRole("tauth", PASSWORD);
  pg.createDatabase("tauth", "tauth");
  url = pg.url({ user: "tauth", password: PASSWORD, database: "tauth" });
}, 60_000);

function oneShot(auth: TauthHandle, token: string, work: string) {
  return run([
    ...legacyArgs(auth, { data: join(work, "data"), dest: join(work, "out"), token }),
    "--oneshot",
  ]);
}

function botsAdd(auth: TauthHandle, name: string): string {
  const r = auth.tctl(["bots", "add", name, "--roles=access", "--logins=root", "--format=json"]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout).token_id as string;
}

describe("tauth on PostgreSQL", () => {
  let first: TauthHandle;

  test("starts with --conn-string; tctl status works; the log names the database without its password", async () => {
    first = await startTauth({ extraArgs: ["--conn-string", url] });
    const status = first.tctl(["status"]);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(first.clusterName);
    expect(first.proc.output()).toContain(`storage:postgresql://tauth@127.0.0.1:${pg.port}/tauth`);
    expect(first.proc.output()).not.toContain(PASSWORD);
    // The cluster lives in the database, not in the data directory.
    expect(existsSync(join(first.dataDir, "tauth.db"))).toBe(false);
    expect(pg.psql("SELECT count(*) FROM tauth_kv WHERE key LIKE '/authorities/%'", "tauth").trim()).not.toBe(
      "0",
    );
  });

  test("a bot joins with a token (tbot one-shot) and its state is in PostgreSQL", () => {
    const token = botsAdd(first, "robot");
    const work = tempDir("pg-bot-");
    const r = oneShot(first, token, work);
    expect(r.code).toBe(0);
    expect(statSync(join(work, "out", "tlscert")).isFile()).toBe(true);
    expect(
      pg.psql("SELECT count(*) FROM tauth_kv WHERE key LIKE '/bot_instances/robot/%'", "tauth").trim(),
    ).toBe("1");
  });

  test("a second replica (another data directory, from tauth.yaml) serves the same cluster", async () => {
    const dir = tempDir("pg-replica-");
    const cfg = join(dir, "tauth.yaml");
    writeFileSync(cfg, `storage:\n  type: postgresql\n  conn_string: "${url}"\n`, { mode: 0o600 });
    const second = await startTauth({ dataDir: join(dir, "data"), extraArgs: ["-c", cfg] });
    expect(second.pin).toBe(first.pin);
    // A token made through one replica is redeemed through the other.
    const token = botsAdd(first, "robot2");
    expect(oneShot(second, token, tempDir("pg-bot2-")).code).toBe(0);
    const bots = second.tctl(["get", "bots", "--format=json"]);
    expect(bots.code).toBe(0);
    expect(bots.stdout).toContain("robot2");
    await second.stop();
  });

  test("the database restarting under a running tauth: 503 in one line meanwhile (no crash), then it works again", async () => {
    expect(first.tctl(["get", "bots", "--format=json"]).code).toBe(0);
    await pg.stop();
    const during = first.tctl(["get", "bots", "--format=json"]);
    expect(during.code).not.toBe(0);
    expect(during.stderr).toContain("the auth service's database is unavailable");
    expect(during.stderr).not.toContain(String(pg.port));
    await pg.restart();
    // No tauth restart: its pool replaces the dead connections.
    const after = first.tctl(["get", "bots", "--format=json"]);
    expect(after.stderr).toBe("");
    expect(after.stdout).toContain("robot");
    expect(first.proc.proc.exitCode).toBeNull();
    expect(first.proc.output()).toContain("PostgreSQL: lost the connection");
    expect(first.proc.output()).not.toContain(PASSWORD);
  });

  test("a restart keeps the cluster (same CA pin, same bots)", async () => {
    await first.restart();
    const status = first.tctl(["status"]);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(first.pin);
    expect(first.tctl(["get", "bots", "--format=json"]).stdout).toContain("robot");
    await first.stop();
  });
});

test("three replicas started at the same moment on an empty database agree on one cluster", async () => {
  pg.createDatabase("cold", "tauth");
  const cold = pg.url({ user: "tauth", password: PASSWORD, database: "cold" });
  const replicas = await Promise.all([1, 2, 3].map(() => startTauth({ extraArgs: ["--conn-string", cold] })));
  expect(new Set(replicas.map((r) => r.pin)).size).toBe(1);
  expect(pg.psql("SELECT count(*) FROM tauth_schema_version", "cold").trim()).toBe(String(SCHEMA_VERSION));
  await Promise.all(replicas.map((r) => r.stop()));
});

describe("one line for a database tauth cannot start on", () => {
  async function startFails(args: string[]) {
    const dataDir = join(tempDir("pg-fail-"), "data");
    const port = await freePort();
    const r = run([tauthBin, "start", "--data-dir", dataDir, "--listen", `127.0.0.1:${port}`, ...args]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    expect(r.stderr).not.toContain(PASSWORD);
    // Refused before anything was written.
    expect(existsSync(dataDir)).toBe(false);
    return lines[0]!;
  }

  test("unreachable", async () => {
    const closed = await freePort();
    const bad = url.replace(`:${pg.port}/`, `:${closed}/`);
    expect(await startFails(["--conn-string", bad])).toBe(
      `ERROR: storage: cannot connect to PostgreSQL at 127.0.0.1:${closed}: connection refused or host not found (is the server running, and are conn_string's host and port right?)`,
    );
  });

  test("wrong credentials", async () => {
    const bad = pg.url({ user: "tauth", password: `${PASSWORD}-wrong`, database: "tauth" });
    const line = await startFails(["--conn-string", bad]);
    expect(line).toBe(
      `ERROR: storage: PostgreSQL at 127.0.0.1:${pg.port} refused user "tauth": wrong password (password authentication failed for user "tauth")`,
    );
    expect(line).not.toContain("wrong@");
  });

  test("a missing database (from tauth.yaml)", async () => {
    const cfg = join(tempDir("pg-cfg-"), "tauth.yaml");
    writeFileSync(
      cfg,
      `storage:\n  type: postgresql\n  conn_string: "${url.replace(/\/tauth$/, "/nosuch")}"\n`,
    );
    expect(await startFails(["-c", cfg])).toBe(
      `ERROR: storage: PostgreSQL at 127.0.0.1:${pg.port} has no database "nosuch": create it (createdb -O tauth nosuch) or fix conn_string`,
    );
  });

  test("a read-only standby", async () => {
    const standby = await startPostgres({ standbyOf: pg });
    const bad = standby.url({ user: "tauth", password: PASSWORD, database: "tauth" });
    expect(await startFails(["--conn-string", bad])).toBe(
      `ERROR: storage: PostgreSQL at 127.0.0.1:${standby.port} is a read-only standby (in recovery): tauth writes, so point conn_string at the primary`,
    );
    await standby.stop();
  }, 60_000);

  test("a conn string that is not one (flag) names the flag and never echoes it", async () => {
    expect(await startFails(["--conn-string", `tauth:${PASSWORD}@db/tauth`])).toBe(
      "ERROR: --conn-string must start with postgresql:// (got tauth://...)",
    );
  });
});
