// Embedded SQLite backend (bun:sqlite, WAL). Each CAS is one UPDATE ... WHERE revision = ?,
// which SQLite executes atomically; the row count tells whether we won. Expiry is decided by
// this process's clock: one machine, one clock (PostgreSQL uses the database's instead).

import { Database } from "bun:sqlite";
import { chmodSync, existsSync } from "node:fs";
import { alreadyExists, compareFailed, notFound } from "../../util/errors.ts";
import { logger } from "../../util/log.ts";
import { type AtomicOp, checkAtomicOps, requireConditions } from "./atomic.ts";
import {
  type Backend,
  checkListOptions,
  type Item,
  type ListOptions,
  type NewItem,
  newRevision,
} from "./backend.ts";
import { installChangeJournal, pollChangeJournal, trimChangeJournal } from "./change-feed-sqlite.ts";

const log = logger("AUTH:BACKEND");
/** Rows the expiry sweep reads between two turns of the event loop: a few milliseconds' work. */
const PURGE_SLICE_ROWS = 2_000;

interface Row {
  key: string;
  value: string;
  revision: string;
  expires: number | null;
}

export class SqliteBackend implements Backend {
  private readonly db: Database;
  constructor(path: string) {
    const fresh = !existsSync(path);
    this.db = new Database(path, { create: true, strict: true });
    if (fresh && path !== ":memory:") chmodSync(path, 0o600);
    // The busy timeout first: tauth's workers open the file at the same moment.
    this.db.exec("PRAGMA busy_timeout = 5000");
    this.db.exec("PRAGMA journal_mode = WAL");
    this.db.exec("PRAGMA synchronous = NORMAL");
    this.db.exec(
      "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, revision TEXT NOT NULL, expires INTEGER)",
    );
    // Keys with their expiry: a count over a key range (the console's per-bot instance counts,
    // tauth_bot_instances) reads this index alone instead of one table row per key to check its
    // expiry, 300 ms → 8 ms for 100,000 instances. A write pays one more index entry, next
    // to its old one (bench/instance-count.ts has both figures).
    this.indexKeysWithExpiry();
    installChangeJournal(this.db);
  }

  private indexKeysWithExpiry(): void {
    const have = this.db
      .query("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'kv_key_expires'")
      .get();
    if (have) return;
    // A database from before this index gets it once, at this start: one pass over the table.
    const rows = this.db.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM kv").get()?.n ?? 0;
    const t = performance.now();
    this.db.exec("CREATE INDEX IF NOT EXISTS kv_key_expires ON kv (key, expires)");
    if (rows > 0)
      log.info("Indexed the stored keys by expiry (once, for a database made by an older tauth)", {
        rows,
        ms: Math.round(performance.now() - t),
      });
  }

  /** Other processes' writes to watched keys (tauth's workers share the file): change-feed-sqlite.ts. */
  listenForChanges(onKey: (key: string) => void, onListen: () => void): Promise<() => Promise<void>> {
    return pollChangeJournal(this.db, onKey, onListen);
  }

  private live(row: Row | null): Item | null {
    if (!row) return null;
    if (row.expires !== null && row.expires <= Date.now()) return null;
    return toItem(row);
  }

  async get(key: string): Promise<Item | null> {
    return this.live(this.db.query<Row, [string]>("SELECT * FROM kv WHERE key = ?").get(key));
  }

  async create(item: NewItem): Promise<Item> {
    const rev = newRevision();
    const exp = item.expires?.getTime() ?? null;
    // An expired row counts as absent, so it may be replaced.
    const r = this.db
      .query(
        `INSERT INTO kv (key, value, revision, expires) VALUES ($key, $value, $rev, $exp)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value, revision = excluded.revision, expires = excluded.expires
         WHERE kv.expires IS NOT NULL AND kv.expires <= $now`,
      )
      .run({ key: item.key, value: item.value, rev, exp, now: Date.now() });
    if (r.changes === 0) throw alreadyExists(`${item.key} already exists`);
    return { ...item, revision: rev };
  }

  async put(item: NewItem): Promise<Item> {
    const rev = newRevision();
    this.db
      .query(
        `INSERT INTO kv (key, value, revision, expires) VALUES ($key, $value, $rev, $exp)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value, revision = excluded.revision, expires = excluded.expires`,
      )
      .run({ key: item.key, value: item.value, rev, exp: item.expires?.getTime() ?? null });
    return { ...item, revision: rev };
  }

  async compareAndSwap(expectedRevision: string, item: NewItem): Promise<Item> {
    const rev = newRevision();
    const r = this.db
      .query(
        `UPDATE kv SET value = $value, revision = $rev, expires = $exp
         WHERE key = $key AND revision = $expected AND (expires IS NULL OR expires > $now)`,
      )
      .run({
        key: item.key,
        value: item.value,
        rev,
        exp: item.expires?.getTime() ?? null,
        expected: expectedRevision,
        now: Date.now(),
      });
    if (r.changes === 0) throw compareFailed(`${item.key} was changed concurrently`);
    return { ...item, revision: rev };
  }

  async delete(key: string): Promise<void> {
    const r = this.db
      .query("DELETE FROM kv WHERE key = $key AND (expires IS NULL OR expires > $now)")
      .run({ key, now: Date.now() });
    if (r.changes === 0) throw notFound(`${key} not found`);
  }

  async deleteIfRevision(key: string, expectedRevision: string): Promise<void> {
    const r = this.db
      .query("DELETE FROM kv WHERE key = $key AND revision = $rev AND (expires IS NULL OR expires > $now)")
      .run({ key, rev: expectedRevision, now: Date.now() });
    if (r.changes === 0) throw compareFailed(`${key} was changed concurrently`);
  }

  async list(prefix: string, opts?: ListOptions): Promise<Item[]> {
    const { limit, startAfter } = checkListOptions(opts);
    // Range scan on the primary key: [prefix, prefix + U+FFFF), after startAfter; LIMIT -1 is
    // SQLite's "no limit". Keys compare as bytes (SQLite's BINARY collation).
    const rows = this.db
      .query<Row, { lo: string; hi: string; after: string; now: number; limit: number }>(
        `SELECT * FROM kv WHERE key >= $lo AND key < $hi AND key > $after
         AND (expires IS NULL OR expires > $now) ORDER BY key LIMIT $limit`,
      )
      .all({ lo: prefix, hi: `${prefix}\uffff`, after: startAfter, now: Date.now(), limit: limit ?? -1 });
    return rows.map(toItem);
  }

  async count(prefix: string): Promise<number> {
    const row = this.db
      .query<{ n: number }, { lo: string; hi: string; now: number }>(
        "SELECT COUNT(*) AS n FROM kv WHERE key >= $lo AND key < $hi AND (expires IS NULL OR expires > $now)",
      )
      .get({ lo: prefix, hi: `${prefix}\uffff`, now: Date.now() });
    return row?.n ?? 0;
  }

  async atomic(ops: AtomicOp[]): Promise<(Item | null)[]> {
    checkAtomicOps(ops);
    if (ops.every((op) => op.condition.kind === "any" && op.action.kind === "put")) return this.putAll(ops);
    // BEGIN IMMEDIATE takes the write lock before the conditions are read, so another process
    // on the same file (tauth admin-identity) cannot change a key between check and write.
    // The whole function is synchronous: no other request of this process runs inside it.
    const run = this.db.transaction((now: number) => {
      const current = new Map<string, string>();
      for (const op of ops) {
        // An unconditional write needs no read (the audit log's batches are all such).
        if (op.condition.kind === "any") continue;
        const row = this.db
          .query<Row, [string]>("SELECT revision, expires FROM kv WHERE key = ?")
          .get(op.key);
        if (row && (row.expires === null || row.expires > now)) current.set(op.key, row.revision);
      }
      requireConditions(ops, (k) => current.get(k) ?? null);
      return ops.map((op): Item | null => {
        if (op.action.kind === "delete") this.db.query("DELETE FROM kv WHERE key = ?").run(op.key);
        if (op.action.kind !== "put") return null;
        const item: Item = { key: op.key, value: op.action.value, revision: newRevision() };
        if (op.action.expires) item.expires = op.action.expires;
        this.db
          .query("INSERT OR REPLACE INTO kv (key, value, revision, expires) VALUES (?, ?, ?, ?)")
          .run(item.key, item.value, item.revision, item.expires?.getTime() ?? null);
        return item;
      });
    });
    return run.immediate(Date.now());
  }

  /**
   * Unconditional puts (the audit log's batches): one INSERT of every row, atomic as any
   * statement is, without a transaction's BEGIN and COMMIT statements around it.
   */
  private putAll(ops: AtomicOp[]): Item[] {
    const items = ops.map((op): Item => {
      const a = op.action as Extract<AtomicOp["action"], { kind: "put" }>;
      const item: Item = { key: op.key, value: a.value, revision: newRevision() };
      if (a.expires) item.expires = a.expires;
      return item;
    });
    const rows = items.map(() => "(?, ?, ?, ?)").join(", ");
    this.db
      .query(`INSERT OR REPLACE INTO kv (key, value, revision, expires) VALUES ${rows}`)
      .run(...items.flatMap((i) => [i.key, i.value, i.revision, i.expires?.getTime() ?? null]));
    return items;
  }

  /**
   * Remove expired rows; called periodically by the server. A slice of the table at a time, by
   * rowid, giving the event loop back between slices: bun:sqlite runs a statement to its end, and
   * one DELETE over the whole table (the audit log keeps 90 days) held every request for the
   * length of the scan, ~250 ms per million rows, every minute (bench/purge-stall.ts).
   */
  purgeExpired(): Promise<number> {
    // One sweep at a time: a long one still running when the next is due is not doubled.
    this.sweep ??= this.sweepSlices().finally(() => {
      this.sweep = undefined;
    });
    return this.sweep;
  }

  private sweep?: Promise<number>;
  private closed = false;

  private async sweepSlices(): Promise<number> {
    trimChangeJournal(this.db);
    const sliceEnd = this.db.query<{ hi: number | null }, [number, number]>(
      "SELECT max(rowid) AS hi FROM (SELECT rowid FROM kv WHERE rowid > ? ORDER BY rowid LIMIT ?)",
    );
    const purge = this.db.query(
      "DELETE FROM kv WHERE rowid > ? AND rowid <= ? AND expires IS NOT NULL AND expires <= ?",
    );
    let removed = 0;
    for (let lo = 0; !this.closed; ) {
      const hi = sliceEnd.get(lo, PURGE_SLICE_ROWS)?.hi;
      if (hi === null || hi === undefined) return removed;
      removed += purge.run(lo, hi, Date.now()).changes;
      lo = hi;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return removed;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.db.close();
  }
}

function toItem(row: Row): Item {
  const item: Item = { key: row.key, value: row.value, revision: row.revision };
  if (row.expires !== null) item.expires = new Date(row.expires);
  return item;
}
