// The change feed across processes on one SQLite file (tauth's worker processes, and offline
// commands such as `tauth admin-identity` writing next to a running tauth). SQLite has no
// LISTEN/NOTIFY, so the database keeps a short journal instead: triggers on `kv` append the
// key of every write to a watched key (change-feed.ts's WATCHED_PREFIXES) to `kv_changes`, in
// the writing transaction, and every process polls the journal past the last entry it saw.
//
// - Entries are numbered by AUTOINCREMENT: never reused, in commit order.
// - The journal is trimmed to its last JOURNAL_KEEP entries by the expiry sweep; a poller
//   that finds its next entry gone (it was away longer than that) asks for a full reload,
//   as a PostgreSQL listener does after a reconnect. So does its first poll.
// - A poll is one indexed read of a WAL database: it never waits for a writer.

import type { Database } from "bun:sqlite";
import { WATCHED_PREFIXES } from "./change-feed.ts";

export const SQLITE_POLL_MS = 100;
export const JOURNAL_KEEP = 10_000;

/** Creates the journal and its triggers (idempotent; run at every open). */
export function installChangeJournal(db: Database): void {
  db.exec("CREATE TABLE IF NOT EXISTS kv_changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL)");
  // One condition over every watched prefix, as a range on the key (no LIKE escaping).
  const watched = (col: string) =>
    WATCHED_PREFIXES.map((p) => `(${col} >= '${p}' AND ${col} < '${p}\uffff')`).join(" OR ");
  const triggers: [string, string, string][] = [
    ["kv_changes_insert_v1", "INSERT", "NEW.key"],
    ["kv_changes_update_v1", "UPDATE", "NEW.key"],
    ["kv_changes_delete_v1", "DELETE", "OLD.key"],
  ];
  for (const [name, op, col] of triggers)
    db.exec(
      `CREATE TRIGGER IF NOT EXISTS ${name} AFTER ${op} ON kv WHEN ${watched(col)}
       BEGIN INSERT INTO kv_changes (key) VALUES (${col}); END`,
    );
}

/** Drops all but the last JOURNAL_KEEP entries. */
export function trimChangeJournal(db: Database): number {
  return db
    .query("DELETE FROM kv_changes WHERE seq <= (SELECT max(seq) FROM kv_changes) - ?")
    .run(JOURNAL_KEEP).changes;
}

/**
 * Polls the journal every `intervalMs`: `onKey` for each entry after the last one seen,
 * `onListen` (reload everything) at the first poll and whenever entries were missed.
 * Resolves to a stop function.
 */
export function pollChangeJournal(
  db: Database,
  onKey: (key: string) => void,
  onListen: () => void,
  intervalMs = SQLITE_POLL_MS,
): Promise<() => Promise<void>> {
  const next = db.query<{ seq: number; key: string }, [number]>(
    "SELECT seq, key FROM kv_changes WHERE seq > ? ORDER BY seq LIMIT 1000",
  );
  const newest = db.query<{ seq: number | null }, []>("SELECT max(seq) AS seq FROM kv_changes");
  let last = newest.get()?.seq ?? 0;
  onListen();
  let stopped = false;
  const poll = () => {
    if (stopped) return;
    try {
      for (;;) {
        const rows = next.all(last);
        if (rows.length === 0) break;
        if (rows[0]!.seq > last + 1) onListen();
        for (const r of rows) onKey(r.key);
        last = rows[rows.length - 1]!.seq;
        if (rows.length < 1000) break;
      }
    } catch {
      // Busy or closing: the next poll reads from the same place.
    }
  };
  const timer = setInterval(poll, intervalMs);
  timer.unref?.();
  return Promise.resolve(async () => {
    stopped = true;
    clearInterval(timer);
  });
}
