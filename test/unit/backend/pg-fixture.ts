// One PostgreSQL server per test file, with a role for tauth and helpers to hand each case a
// fresh, empty place to work: a schema (fast; via search_path) or a whole database.

import { afterAll } from "bun:test";
import { SQL } from "bun";
import { PostgresBackend } from "../../../src/auth/backend/postgres.ts";
import { type PgServer, startPostgres, stopAllPostgres } from "../../harness/postgres.ts";
import { cleanupAfterFile } from "../../harness/proc.ts";

export const ROLE = "tauth";
export const PASSWORD = "s3cret-Pa55word";

export interface PgFixture {
  server: PgServer;
  /** A URL for `database` (default "tauth"), as the tauth role. */
  url(database?: string, params?: Record<string, string>): string;
  /** A fresh schema of the tauth database: its name and a URL whose search_path selects it. */
  freshSchema(): Promise<{ schema: string; url: string }>;
  /** A backend on a fresh schema. */
  freshBackend(o?: { max?: number }): Promise<PostgresBackend>;
  /** A new empty database owned by the tauth role; its URL. */
  freshDatabase(): string;
  /** A superuser client on the tauth database (to look under the hood, or to kill sessions). */
  admin: SQL;
}

let counter = 0;

/** Call at the top level of a test file; the server starts in the returned promise. */
export function pgFixture(o: { tls?: boolean } = {}): () => Promise<PgFixture> {
  // Graceful stop before cleanupAfterFile's SIGKILL (afterAll hooks run in order).
  afterAll(stopAllPostgres);
  cleanupAfterFile();
  let ready: Promise<PgFixture> | undefined;
  afterAll(async () => (await ready)?.admin.close());
  return () => {
    ready ??= (async () => {
      const server = await startPostgres(o);
      server.createRole(ROLE, PASSWORD);
      // ICU en-US: a collation under which "B" sorts after "a"; tauth's keys must not.
      server.createDatabase("tauth", ROLE, { icu: "en-US" });
      const url = (database = "tauth", params?: Record<string, string>) =>
        server.url({ user: ROLE, password: PASSWORD, database, params });
      const admin = new SQL(server.url({ database: "tauth" }), { max: 2 });
      const freshSchema = async () => {
        const schema = `case_${++counter}`;
        await admin.unsafe(`CREATE SCHEMA ${schema} AUTHORIZATION ${ROLE}`);
        return { schema, url: url("tauth", { search_path: schema }) };
      };
      return {
        server,
        url,
        admin,
        freshSchema,
        async freshBackend(b = {}) {
          return PostgresBackend.open((await freshSchema()).url, { max: b.max ?? 4 });
        },
        freshDatabase() {
          const db = `db_${++counter}`;
          server.createDatabase(db, ROLE);
          return url(db);
        },
      };
    })();
    return ready;
  };
}
