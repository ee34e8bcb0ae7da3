// Conn strings that list several PostgreSQL hosts (libpq's form): parsed into one URL per
// host, described without secrets, and opened on the first writable host. The failover of a
// running replica to a promoted standby is test/e2e/ha-database.test.ts.

import { describe, expect, test } from "bun:test";
import { PostgresBackend } from "../../../src/auth/backend/postgres.ts";
import { parseConnString } from "../../../src/auth/backend/postgres-conn.ts";
import { startPostgres } from "../../harness/postgres.ts";
import { freePort } from "../../harness/proc.ts";
import { PASSWORD, pgFixture, ROLE } from "./pg-fixture.ts";

const pg = pgFixture();

const message = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  return "no error";
};

describe("several hosts in a conn string", () => {
  test("one URL per host, with the user, database and parameters of the whole; no password shown", () => {
    const t = parseConnString(
      "postgresql://tauth:s%40cret@db1:5432,db2,[::1]:5433/auth?target_session_attrs=read-write&sslmode=require",
    );
    expect(t.hosts.map((h) => h.where)).toEqual(["db1:5432", "db2:5432", "[::1]:5433"]);
    expect(t.hosts.map((h) => h.url)).toEqual([
      "postgresql://tauth:s%40cret@db1:5432/auth?target_session_attrs=read-write&sslmode=require",
      "postgresql://tauth:s%40cret@db2/auth?target_session_attrs=read-write&sslmode=require",
      "postgresql://tauth:s%40cret@[::1]:5433/auth?target_session_attrs=read-write&sslmode=require",
    ]);
    expect(t.display).toBe("postgresql://tauth@db1:5432,db2:5432,[::1]:5433/auth");
    expect(t.where).toBe("db1:5432,db2:5432,[::1]:5433");
    expect(t.secrets).toContain("s@cret");
  });

  test("one host is one host, as before", () => {
    const t = parseConnString("postgresql://tauth@db:5433/auth");
    expect(t.hosts).toEqual([{ url: "postgresql://tauth@db:5433/auth", where: "db:5433" }]);
  });

  test("what tauth cannot use is one line naming the setting", () => {
    expect(message(() => parseConnString("postgresql://u@db1,db2/d?target_session_attrs=standby"))).toBe(
      "conn_string: target_session_attrs=standby is not one tauth can use (it writes): use read-write",
    );
    expect(message(() => parseConnString("postgresql://u@db1,,db2/d"))).toBe(
      "conn_string lists an empty host (two commas, or one at an end)",
    );
    expect(message(() => parseConnString("postgresql:///d?host=db1,db2"))).toBe(
      "conn_string: list several hosts in the URL itself (postgresql://user@db1:5432,db2:5432/tauth), not in a host parameter",
    );
  });
});

describe("opening on the first writable host", () => {
  const both = (first: string, second: string) =>
    `postgresql://${ROLE}:${PASSWORD}@${first},${second}/tauth?target_session_attrs=read-write`;

  test("the first host down: the second serves", async () => {
    const f = await pg();
    const closed = await freePort();
    const b = await PostgresBackend.open(both(`127.0.0.1:${closed}`, `127.0.0.1:${f.server.port}`), {
      max: 1,
    });
    await b.put({ key: "/failover/x", value: "{}" });
    expect(await b.get("/failover/x")).not.toBeNull();
    await b.close();
  });

  test("a standby listed first is passed over for the primary; no writable host at all is one line for each", async () => {
    const f = await pg();
    const standby = await startPostgres({ standbyOf: f.server });
    try {
      const b = await PostgresBackend.open(both(`127.0.0.1:${standby.port}`, `127.0.0.1:${f.server.port}`), {
        max: 1,
      });
      await b.put({ key: "/failover/y", value: "{}" });
      await b.close();
      const closed = await freePort();
      let line = "";
      try {
        await PostgresBackend.open(both(`127.0.0.1:${standby.port}`, `127.0.0.1:${closed}`), { max: 1 });
      } catch (e) {
        line = (e as Error).message;
      }
      expect(line).toBe(
        `storage: no writable PostgreSQL among the hosts of conn_string: PostgreSQL at 127.0.0.1:${standby.port} is a read-only standby (in recovery): tauth writes, so point conn_string at the primary; cannot connect to PostgreSQL at 127.0.0.1:${closed}: connection refused or host not found (is the server running, and are conn_string's host and port right?)`,
      );
      expect(line).not.toContain(PASSWORD);
    } finally {
      await standby.stop();
    }
  }, 60_000);
});
