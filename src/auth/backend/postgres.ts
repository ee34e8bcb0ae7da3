// PostgreSQL backend (Bun's built-in SQL client), for several tauth replicas on one database.
// Same contract as SQLite; what differs is why it holds:
//
// - CAS is one UPDATE ... WHERE revision = $expected; PostgreSQL's row locks serialize
//   concurrent ones, and the row count says who won.
// - Expiry is decided by the DATABASE clock: every filter compares with now(), and an expiry
//   is stored as now() + (expires - this replica's now), i.e. the lifetime the caller meant.
//   Replicas whose clocks disagree still agree on what is expired. Read back, an expiry is
//   turned into this replica's clock the same way.
// - Multi-key writes (atomic) run SERIALIZABLE and are retried on 40001/40P01.
// - A conn string may list several hosts; the pool follows the writable one
//   (postgres-failover.ts), and a statement that failed on the old one runs on the new one
//   with the same rules as a retry after a dropped connection (below).
// - A statement that fails because its connection dropped is retried on another connection
//   (postgres-retry.ts). What a retry does when the first try may have committed with its
//   reply lost:
//     get, list ........... a read: no effect.
//     create, CAS ......... the new revision is chosen once, before the first try, and the
//                           statement also matches a row that already has it: a retry of a
//                           write that landed re-applies the same values and succeeds, instead
//                           of reporting already_exists / compare_failed for its own write.
//     put ................. re-applied with the same revision. If another writer changed the
//                           key between the two tries, the retry overwrites it again: the same
//                           last-writer-wins a put has anyway.
//     delete .............. not_found on a retry counts as done (the key is absent, as asked).
//     deleteIfRevision .... on a retry, an absent row is reported as compare_failed: it cannot
//                           tell "we deleted it" from "someone else did". Errs toward "you lost
//                           the race", never toward two winners.
//     atomic .............. a retry after a lost COMMIT first looks for its own revisions;
//                           found, the first try committed and it is done. Otherwise the
//                           conditions are checked again (a delete-only write whose conditions
//                           its own first try consumed fails closed, as deleteIfRevision).

import type { SQL, TransactionSQL } from "bun";
import { alreadyExists, compareFailed, notFound } from "../../util/errors.ts";
import { type AtomicOp, checkAtomicOps, requireConditions } from "./atomic.ts";
import {
  type Backend,
  checkListOptions,
  type Item,
  type ListOptions,
  type NewItem,
  newRevision,
} from "./backend.ts";
import { type PgTarget, parseConnString } from "./postgres-conn.ts";
import { openError, runtimeError } from "./postgres-errors.ts";
import { NoWritableHost, PgClients } from "./postgres-failover.ts";
import { MAX_MOVES, retryOnConnectionLoss, serializable, type TxContext } from "./postgres-retry.ts";
import { CHANGES_CHANNEL, migrate } from "./postgres-schema.ts";

interface Row {
  key: string;
  value: string;
  revision: string;
  /** Milliseconds until expiry by the database's clock; null for no expiry. */
  ttl_ms: number | null;
}

/** Milliseconds from this replica's now to `expires`: what the database adds to its now(). */
const ttlOf = (expires?: Date) => (expires ? expires.getTime() - Date.now() : null);

function toItem(row: Row): Item {
  const item: Item = { key: row.key, value: row.value, revision: row.revision };
  if (row.ttl_ms !== null) item.expires = new Date(Date.now() + Number(row.ttl_ms));
  return item;
}

export interface PostgresOptions {
  /** Pool size; overrides the conn string's `max`. Tests open many backends with small pools. */
  max?: number;
}

export class PostgresBackend implements Backend {
  private constructor(
    private readonly pool: PgClients,
    readonly target: PgTarget,
    private readonly attempts: number,
  ) {}

  /** The pool in use: read for every statement, since a failover replaces it. */
  private get sql(): SQL {
    return this.pool.sql;
  }

  /**
   * Connect (to the first writable host), refuse a standby, and migrate. Every failure is one
   * UserError line without the password; nothing is left open.
   */
  static async open(connString: string, o: PostgresOptions = {}): Promise<PostgresBackend> {
    const t = parseConnString(connString);
    const max = o.max ?? t.max;
    let pool: PgClients | undefined;
    try {
      pool = await PgClients.open(t, max);
      await migrate(pool.sql);
    } catch (e) {
      await pool?.close(0).catch(() => {});
      if (e instanceof NoWritableHost) throw e;
      throw openError(e, pool ? { ...t, where: pool.where } : t);
    }
    // Each try takes another connection: pool size + 1 tries reach a new one (postgres-retry.ts).
    return new PostgresBackend(pool, t, max + 1);
  }

  /**
   * A single statement, retried on a dropped connection, and on another host after a
   * failover; errors leave without secrets. A statement run again on another host is told
   * `again`: its first try may have committed.
   */
  private async run<T>(op: (again: boolean) => Promise<T>): Promise<T> {
    for (let moves = 0; ; moves++) {
      try {
        const r = await retryOnConnectionLoss(this.attempts, (again) => op(again || moves > 0));
        this.pool.answered();
        return r;
      } catch (e) {
        if (moves < MAX_MOVES && (await this.pool.recover(e))) continue;
        this.pool.lost(e);
        throw runtimeError(e, this.target);
      }
    }
  }

  /**
   * LISTEN for the keys the database announces on change (postgres-schema.ts), following
   * the pool through failovers; `onListen` runs at every (re)subscription. See change-feed.ts.
   */
  listenForChanges(onKey: (key: string) => void, onListen: () => void): Promise<() => Promise<void>> {
    return this.pool.listen(CHANGES_CHANNEL, onKey, onListen);
  }

  /** The database's clock, in epoch milliseconds (what expiry is decided by). */
  async databaseNow(): Promise<number> {
    const [r] = await this.run(
      () => this.sql<{ ms: number }[]>`SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS ms`,
    );
    return Number(r!.ms);
  }

  /**
   * `fn` in a SERIALIZABLE transaction, retried on serialization failures, deadlocks and
   * dropped connections (see postgres-retry.ts; ctx.lostCommit tells the body that an earlier
   * try may have committed). The body must only touch the database through `tx`.
   */
  async transaction<T>(fn: (tx: TransactionSQL, ctx: TxContext) => Promise<T>): Promise<T> {
    try {
      const r = await serializable(
        () => this.sql,
        this.attempts,
        fn,
        (e) => this.pool.recover(e),
      );
      this.pool.answered();
      return r;
    } catch (e) {
      this.pool.lost(e);
      throw runtimeError(e, this.target);
    }
  }

  async get(key: string): Promise<Item | null> {
    const rows = await this.run(
      () => this.sql<Row[]>`
        SELECT key, value, revision, (extract(epoch FROM expires - now()) * 1000)::float8 AS ttl_ms
        FROM tauth_kv WHERE key = ${key} AND (expires IS NULL OR expires > now())`,
    );
    return rows[0] ? toItem(rows[0]) : null;
  }

  async create(item: NewItem): Promise<Item> {
    const rev = newRevision();
    const ttl = ttlOf(item.expires);
    // An expired row counts as absent and is replaced; a row with our own revision is our
    // earlier try whose reply was lost.
    const rows = await this.run(
      () => this.sql`
        INSERT INTO tauth_kv (key, value, revision, expires)
        VALUES (${item.key}, ${item.value}, ${rev}, now() + ${ttl}::float8 * interval '1 millisecond')
        ON CONFLICT (key) DO UPDATE SET value = excluded.value, revision = excluded.revision, expires = excluded.expires
        WHERE tauth_kv.expires <= now() OR tauth_kv.revision = ${rev}
        RETURNING revision`,
    );
    if (rows.length === 0) throw alreadyExists(`${item.key} already exists`);
    return { ...item, revision: rev };
  }

  async put(item: NewItem): Promise<Item> {
    const rev = newRevision();
    const ttl = ttlOf(item.expires);
    await this.run(
      () => this.sql`
        INSERT INTO tauth_kv (key, value, revision, expires)
        VALUES (${item.key}, ${item.value}, ${rev}, now() + ${ttl}::float8 * interval '1 millisecond')
        ON CONFLICT (key) DO UPDATE SET value = excluded.value, revision = excluded.revision, expires = excluded.expires`,
    );
    return { ...item, revision: rev };
  }

  async compareAndSwap(expectedRevision: string, item: NewItem): Promise<Item> {
    const rev = newRevision();
    const ttl = ttlOf(item.expires);
    const r = await this.run(
      () => this.sql`
        UPDATE tauth_kv SET value = ${item.value}, revision = ${rev},
          expires = now() + ${ttl}::float8 * interval '1 millisecond'
        WHERE key = ${item.key} AND revision IN (${expectedRevision}, ${rev})
          AND (expires IS NULL OR expires > now())`,
    );
    if (r.count === 0) throw compareFailed(`${item.key} was changed concurrently`);
    return { ...item, revision: rev };
  }

  async delete(key: string): Promise<void> {
    let retried = false;
    const r = await this.run((again) => {
      retried = again;
      return this.sql`DELETE FROM tauth_kv WHERE key = ${key} AND (expires IS NULL OR expires > now())`;
    });
    if (r.count === 0 && !retried) throw notFound(`${key} not found`);
  }

  async deleteIfRevision(key: string, expectedRevision: string): Promise<void> {
    const r = await this.run(
      () => this.sql`
        DELETE FROM tauth_kv WHERE key = ${key} AND revision = ${expectedRevision}
          AND (expires IS NULL OR expires > now())`,
    );
    if (r.count === 0) throw compareFailed(`${key} was changed concurrently`);
  }

  async list(prefix: string, opts?: ListOptions): Promise<Item[]> {
    const { limit, startAfter } = checkListOptions(opts);
    // The key column is COLLATE "C", so this range is the same byte range as SQLite's. LIMIT
    // NULL is no limit.
    const rows = await this.run(
      () => this.sql<Row[]>`
        SELECT key, value, revision, (extract(epoch FROM expires - now()) * 1000)::float8 AS ttl_ms
        FROM tauth_kv
        WHERE key >= ${prefix} AND key < ${`${prefix}\uffff`} AND key > ${startAfter}
          AND (expires IS NULL OR expires > now())
        ORDER BY key LIMIT ${limit ?? null}`,
    );
    return rows.map(toItem);
  }

  async count(prefix: string): Promise<number> {
    const rows = await this.run(
      () => this.sql<{ n: number }[]>`
        SELECT COUNT(*)::int AS n FROM tauth_kv
        WHERE key >= ${prefix} AND key < ${`${prefix}\uffff`} AND (expires IS NULL OR expires > now())`,
    );
    return rows[0]?.n ?? 0;
  }

  async atomic(ops: AtomicOp[]): Promise<(Item | null)[]> {
    checkAtomicOps(ops);
    // Chosen once: a retry after a lost COMMIT recognises its own writes by them.
    const written = ops.map((op): Item | null => {
      if (op.action.kind !== "put") return null;
      const item: Item = { key: op.key, value: op.action.value, revision: newRevision() };
      if (op.action.expires) item.expires = op.action.expires;
      return item;
    });
    return this.transaction(async (tx, ctx) => {
      const rows = await tx<{ key: string; revision: string }[]>`
        SELECT key, revision FROM tauth_kv
        WHERE key IN ${tx(ops.map((o) => o.key))} AND (expires IS NULL OR expires > now())
        FOR UPDATE`;
      const current = new Map(rows.map((r) => [r.key, r.revision]));
      if (ctx.lostCommit && written.some((w) => w && current.get(w.key) === w.revision)) return written;
      requireConditions(ops, (k) => current.get(k) ?? null);
      for (const [i, op] of ops.entries()) {
        const w = written[i];
        if (op.action.kind === "delete") await tx`DELETE FROM tauth_kv WHERE key = ${op.key}`;
        if (!w) continue;
        const ttl = ttlOf(w.expires);
        await tx`
          INSERT INTO tauth_kv (key, value, revision, expires)
          VALUES (${w.key}, ${w.value}, ${w.revision}, now() + ${ttl}::float8 * interval '1 millisecond')
          ON CONFLICT (key) DO UPDATE SET value = excluded.value, revision = excluded.revision, expires = excluded.expires`;
      }
      return written;
    });
  }

  /**
   * Delete expired rows in batches. Every replica runs this: SKIP LOCKED lets two sweeps
   * take disjoint batches instead of queueing on the same rows, and a short batch means the
   * rest is being swept elsewhere (or there is no more).
   */
  async purgeExpired(batch = 1000, maxBatches = 100): Promise<number> {
    let total = 0;
    for (let i = 0; i < maxBatches; i++) {
      const r = await this.run(
        () => this.sql`
          DELETE FROM tauth_kv WHERE ctid IN (
            SELECT ctid FROM tauth_kv WHERE expires <= now() LIMIT ${batch} FOR UPDATE SKIP LOCKED
          ) AND expires <= now()`,
      );
      total += r.count;
      if (r.count < batch) break;
    }
    return total;
  }

  async close(): Promise<void> {
    await this.pool.close(5);
  }
}
