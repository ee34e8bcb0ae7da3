// tauth's tables in PostgreSQL and how they come to be. Every replica runs the migrations
// when it opens the database, possibly all at the same moment on an empty database: CREATE
// TABLE IF NOT EXISTS alone is not safe then (two sessions both see "absent" and one fails on
// the catalog's unique index), so the whole migration runs under a transaction-scoped advisory
// lock. The second replica waits, then finds the version already applied.

import type { SQL } from "bun";
import { UserError } from "../../util/errors.ts";

/**
 * Channel on which the database announces changed keys (payload: the key) for what replicas
 * keep in memory (locks): sent by a trigger, so in the writing transaction, delivered on its
 * commit, whoever wrote. See change-feed.ts.
 */
export const CHANGES_CHANNEL = "tauth_changes";

/** pg_advisory_xact_lock key for migrations: "tauth" in ASCII, fixed forever. */
const MIGRATION_LOCK = 0x7461757468;

interface Migration {
  version: number;
  sql: string;
}

// Append only; never edit a released migration.
const migrations: Migration[] = [
  {
    version: 1,
    // COLLATE "C": keys compare and sort as bytes, as in SQLite, whatever the database's
    // collation (list's prefix ranges and page order depend on it). Expiry is a timestamptz
    // compared with the database's now(), so replicas with skewed clocks agree.
    sql: `
      CREATE TABLE tauth_kv (
        key text COLLATE "C" PRIMARY KEY,
        value text NOT NULL,
        revision text NOT NULL,
        expires timestamptz
      );
      CREATE INDEX tauth_kv_expires ON tauth_kv (expires) WHERE expires IS NOT NULL;
    `,
  },
  {
    version: 2,
    // Replicas cache locks in memory; every write to one (any statement, any replica, an
    // expiry sweep) announces its key on CHANGES_CHANNEL within the writing transaction.
    sql: `
      CREATE FUNCTION tauth_kv_announce() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_notify('${CHANGES_CHANNEL}', CASE WHEN TG_OP = 'DELETE' THEN OLD.key ELSE NEW.key END);
        RETURN NULL;
      END $$;
      CREATE TRIGGER tauth_kv_announce_write AFTER INSERT OR UPDATE ON tauth_kv
        FOR EACH ROW WHEN (NEW.key LIKE '/locks/%') EXECUTE FUNCTION tauth_kv_announce();
      CREATE TRIGGER tauth_kv_announce_delete AFTER DELETE ON tauth_kv
        FOR EACH ROW WHEN (OLD.key LIKE '/locks/%') EXECUTE FUNCTION tauth_kv_announce();
    `,
  },
];

export const SCHEMA_VERSION = migrations[migrations.length - 1]!.version;

/**
 * Indexes that change no result, only speed: made if absent at every open, under the same
 * lock, without a new schema version, so an older tauth (a replica not yet upgraded, or one
 * rolled back) still opens the database. The first open after an upgrade builds each once,
 * holding writes back while it does (about 0.3 s per 100,000 rows).
 */
const additiveIndexes = [
  // A count or list over a key range (a bot's instances: the console's bots page,
  // tauth_bot_instances) tests expiry in the index, an index-only scan once vacuumed:
  // 86 → 9 ms for ten bots of 10,000 instances (bench/instance-count-pg.ts).
  "CREATE INDEX IF NOT EXISTS tauth_kv_key_expires ON tauth_kv (key) INCLUDE (expires)",
];

/** Bring the schema to SCHEMA_VERSION; refuses a database written by a newer tauth. */
export async function migrate(sql: SQL): Promise<void> {
  await sql.begin(async (tx) => {
    await tx.unsafe(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`);
    await tx`CREATE TABLE IF NOT EXISTS tauth_schema_version (
      version integer PRIMARY KEY,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`;
    const [row] = await tx`SELECT coalesce(max(version), 0)::int AS v FROM tauth_schema_version`;
    const current = (row as { v: number }).v;
    if (current > SCHEMA_VERSION)
      throw new UserError(
        `holds tauth schema version ${current}, newer than this tauth knows (${SCHEMA_VERSION}): run the newer tauth`,
      );
    for (const m of migrations) {
      if (m.version <= current) continue;
      await tx.unsafe(m.sql);
      await tx`INSERT INTO tauth_schema_version (version) VALUES (${m.version})`;
    }
    for (const index of additiveIndexes) await tx.unsafe(index);
  });
}
