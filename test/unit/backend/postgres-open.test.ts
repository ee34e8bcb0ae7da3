// Opening PostgreSQL: TLS as operators configure it (verify-full with sslrootcert, client
// certificates), and the one line tauth prints for each database it cannot start on — never
// with the password in it.

import { expect, test } from "bun:test";
import { PostgresBackend } from "../../../src/auth/backend/postgres.ts";
import { SCHEMA_VERSION } from "../../../src/auth/backend/postgres-schema.ts";
import { startPostgres } from "../../harness/postgres.ts";
import { PASSWORD, pgFixture, ROLE } from "./pg-fixture.ts";

const pg = pgFixture({ tls: true });

async function openFails(url: string): Promise<string> {
  try {
    const b = await PostgresBackend.open(url, { max: 1 });
    await b.close();
  } catch (e) {
    const m = (e as Error).message;
    expect(m).not.toContain(PASSWORD);
    expect(m).not.toContain("\n");
    expect((e as Error).name).toBe("UserError");
    return m;
  }
  throw new Error(`opened ${url}`);
}

test("TLS verify-full with sslrootcert, password login: works, and the session is encrypted", async () => {
  const f = await pg();
  const { schema } = await f.freshSchema();
  const b = await PostgresBackend.open(
    f.url("tauth", { sslmode: "verify-full", sslrootcert: f.server.tls!.caFile, search_path: schema }),
  );
  await b.put({ key: "/tls/k", value: "1" });
  expect((await b.get("/tls/k"))?.value).toBe("1");
  const [row] = await f.admin`SELECT bool_and(ssl) AS all_tls, count(*)::int AS n FROM pg_stat_ssl
    JOIN pg_stat_activity USING (pid) WHERE usename = ${ROLE}`;
  expect(row.n).toBeGreaterThan(0);
  expect(row.all_tls).toBe(true);
  await b.close();
});

test("TLS client certificate login (sslcert/sslkey, no password)", async () => {
  const f = await pg();
  f.server.createRole("certuser", "unused-password");
  f.server.psql("GRANT CREATE ON SCHEMA public TO certuser", "tauth");
  const c = f.server.tls!.clientCert("certuser");
  const url = f.server.url({
    user: "certuser",
    database: "tauth",
    params: { sslmode: "verify-full", sslrootcert: f.server.tls!.caFile, sslcert: c.cert, sslkey: c.key },
  });
  const b = await PostgresBackend.open(url);
  await b.create({ key: "/cert/k", value: "1" });
  await b.close();
  // The same user without its certificate is refused by pg_hba, in one line.
  const noCert = f.server.url({ user: "certuser", database: "tauth", params: { sslmode: "require" } });
  expect(await openFails(noCert)).toContain(
    'refused user "certuser": connection requires a valid client certificate',
  );
});

test("one line for each database tauth cannot start on", async () => {
  const f = await pg();
  const where = `127.0.0.1:${f.server.port}`;
  expect(await openFails(f.server.url({ user: ROLE, password: "wrong", database: "tauth" }))).toBe(
    `storage: PostgreSQL at ${where} refused user "tauth": wrong password (password authentication failed for user "tauth")`,
  );
  expect(await openFails(f.url("nosuchdb"))).toBe(
    `storage: PostgreSQL at ${where} has no database "nosuchdb": create it (createdb -O tauth nosuchdb) or fix conn_string`,
  );
  expect(await openFails(f.url("tauth").replace(`:${f.server.port}/`, ":1/"))).toStartWith(
    "storage: cannot connect to PostgreSQL at 127.0.0.1:1: connection refused",
  );
  // verify-full against the system's CAs: the test CA is not among them.
  expect(await openFails(f.url("tauth", { sslmode: "verify-full" }))).toStartWith(
    `storage: TLS to PostgreSQL at ${where} failed: `,
  );
  // A database whose sessions are read-only (the way some setups fence a demoted primary).
  f.server.createDatabase("readonly", ROLE);
  f.server.psql("ALTER DATABASE readonly SET default_transaction_read_only = on");
  expect(await openFails(f.url("readonly"))).toStartWith(`storage: PostgreSQL at ${where} is read-only (`);
  // A user that may not create tables (PostgreSQL 15: public is not writable by everyone).
  f.server.createRole("visitor", PASSWORD);
  expect(await openFails(f.server.url({ user: "visitor", password: PASSWORD, database: "tauth" }))).toContain(
    'user "visitor" may not create tauth\'s tables in database "tauth"',
  );
});

test("a database written by a newer tauth (schema version ahead) is refused", async () => {
  const f = await pg();
  const { schema, url } = await f.freshSchema();
  await (await PostgresBackend.open(url, { max: 1 })).close();
  await f.admin.unsafe(`INSERT INTO ${schema}.tauth_schema_version (version) VALUES (99)`);
  expect(await openFails(url)).toBe(
    `storage: PostgreSQL at 127.0.0.1:${f.server.port} holds tauth schema version 99, newer than this tauth knows (${SCHEMA_VERSION}): run the newer tauth`,
  );
});

test("a database from before the (key) INCLUDE (expires) index gets it at open, with no new schema version", async () => {
  const f = await pg();
  const { schema, url } = await f.freshSchema();
  await (await PostgresBackend.open(url, { max: 1 })).close();
  // As an older tauth left it: no such index.
  await f.admin.unsafe(`DROP INDEX ${schema}.tauth_kv_key_expires`);
  const b = await PostgresBackend.open(url, { max: 1 });
  await b.put({ key: "/i/b/1", value: "{}" });
  await b.put({ key: "/i/b/2", value: "{}", expires: new Date(Date.now() - 1000) });
  expect(await b.count("/i/b/")).toBe(1);
  await b.close();
  const indexes = await f.admin`SELECT indexdef FROM pg_indexes
    WHERE schemaname = ${schema} AND indexname = 'tauth_kv_key_expires'`;
  expect(indexes.map((r: { indexdef: string }) => r.indexdef.replace(/^.* USING /, ""))).toEqual([
    "btree (key) INCLUDE (expires)",
  ]);
  const [v] = await f.admin.unsafe(`SELECT max(version)::int AS v FROM ${schema}.tauth_schema_version`);
  expect(v.v).toBe(SCHEMA_VERSION);
});

test("a read-only standby is refused in one line", async () => {
  const f = await pg();
  const standby = await startPostgres({ standbyOf: f.server });
  const url = standby.url({ user: ROLE, password: PASSWORD, database: "tauth" });
  expect(await openFails(url)).toBe(
    `storage: PostgreSQL at 127.0.0.1:${standby.port} is a read-only standby (in recovery): tauth writes, so point conn_string at the primary`,
  );
  await standby.stop();
}, 60_000);

test("the password may come from PGPASSWORD instead of the conn string", async () => {
  const f = await pg();
  const { url } = await f.freshSchema();
  const saved = process.env.PGPASSWORD;
  process.env.PGPASSWORD = PASSWORD;
  try {
    const bare = url.replace(`:${encodeURIComponent(PASSWORD)}@`, "@");
    expect(bare).not.toContain(PASSWORD);
    const b = await PostgresBackend.open(bare, { max: 1 });
    await b.put({ key: "/env/k", value: "1" });
    await b.close();
  } finally {
    if (saved === undefined) delete process.env.PGPASSWORD;
    else process.env.PGPASSWORD = saved;
  }
});
