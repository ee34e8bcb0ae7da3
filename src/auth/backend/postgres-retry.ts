// Running PostgreSQL work again when running it again is the right answer.
//
// Dropped connection. After a failover, a server restart or pg_terminate_backend, every
// pooled connection is dead, and Bun learns it one query at a time: each query on a dead
// connection fails and removes it. So a statement is retried up to pool-size times (each try
// on another connection; the last one is necessarily new), not just once. Whether a retry is
// *safe* is the statement's business: it is told, through `again`, that an earlier try may
// have been applied with its reply lost (a lost COMMIT acknowledgement). See postgres.ts.
//
// Serialization failure (40001) and deadlock (40P01). The transaction was rolled back as a
// whole, so running it again is always safe; waits are capped and jittered so that replicas
// that collided do not collide again in step.

import type { SQL, TransactionSQL } from "bun";
import { isConnectionLost, isSerializationFailure } from "./postgres-errors.ts";

/** Full jitter: a random wait in [0, min(cap, base * 2^attempt)). */
export function backoffMs(attempt: number, baseMs: number, capMs: number): number {
  return Math.random() * Math.min(capMs, baseMs * 2 ** attempt);
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const SERIALIZATION_ATTEMPTS = 10;

/** Failovers one statement may ride: a second one within a statement is already unusual. */
export const MAX_MOVES = 2;

/** `op(again)`: again is true when an earlier try failed with the connection lost under it. */
export async function retryOnConnectionLoss<T>(
  maxAttempts: number,
  op: (again: boolean) => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await op(attempt > 1);
    } catch (e) {
      if (!isConnectionLost(e) || attempt >= maxAttempts) throw e;
      // A short wait also lets Bun read the closes the server already sent on other connections.
      await pause(backoffMs(attempt, 5, 100));
    }
  }
}

export interface TxContext {
  /**
   * True when an earlier try failed while its COMMIT was unanswered: it may have committed.
   * The body can check for its own writes (their revisions are unique) and stop there.
   */
  lostCommit: boolean;
}

/**
 * `fn` in a SERIALIZABLE transaction, run again on serialization failures and deadlocks, and
 * on a dropped connection (with `lostCommit` set when the drop hit the COMMIT). `pool` is read
 * for every try (a failover replaces the pool); `recover`, when the tries on one pool are used
 * up, says whether the pool now points at another server worth trying (postgres-failover.ts).
 */
export async function serializable<T>(
  pool: () => SQL,
  connectionAttempts: number,
  fn: (tx: TransactionSQL, ctx: TxContext) => Promise<T>,
  recover?: (e: unknown) => Promise<boolean>,
): Promise<T> {
  const ctx: TxContext = { lostCommit: false };
  let conflicts = 0;
  let drops = 0;
  let moves = 0;
  for (;;) {
    let committing = false;
    try {
      return (await pool().begin("isolation level serializable", async (tx) => {
        const r = await fn(tx, ctx);
        committing = true;
        return r;
      })) as T;
    } catch (e) {
      if (isSerializationFailure(e) && ++conflicts < SERIALIZATION_ATTEMPTS) {
        await pause(backoffMs(conflicts, 5, 500));
        continue;
      }
      // A failure inside the body never reached COMMIT: nothing was applied.
      if (committing && isConnectionLost(e)) ctx.lostCommit = true;
      if (isConnectionLost(e) && ++drops < connectionAttempts) {
        await pause(backoffMs(drops, 5, 100));
        continue;
      }
      if (recover && moves < MAX_MOVES && (await recover(e))) {
        moves++;
        drops = 0;
        continue;
      }
      throw e;
    }
  }
}
