// The storage contract of the auth service: a key/value store with revisions and
// compare-and-swap. Every counter that guards against theft or reuse (single-use tokens,
// generation counters, recovery counters, bound keys) changes only through compareAndSwap,
// deleteIfRevision or a conditional atomic write, so two concurrent requests can never both
// win. SQLite (one node) and PostgreSQL (several replicas) implement the same semantics and
// run the same test suite (test/unit/backend/contract.ts).

import { badParameter } from "../../util/errors.ts";
import type { AtomicOp } from "./atomic.ts";

export type { AtomicOp, Condition } from "./atomic.ts";

export interface Item {
  key: string;
  /** JSON text. */
  value: string;
  /** Opaque; changes on every write. A deleted and re-created key never reuses a revision. */
  revision: string;
  /** Items past this instant are treated as absent. */
  expires?: Date;
}

export type NewItem = Omit<Item, "revision">;

export interface ListOptions {
  /** At most this many items (a positive integer); all when absent. */
  limit?: number;
  /** Only keys after this one (the last key of the previous page). */
  startAfter?: string;
}

export interface Backend {
  get(key: string): Promise<Item | null>;
  /** Fails with already_exists if the key is present. */
  create(item: NewItem): Promise<Item>;
  /** Insert or replace. */
  put(item: NewItem): Promise<Item>;
  /** Replace only if the current revision is `expectedRevision`; else compare_failed. */
  compareAndSwap(expectedRevision: string, item: NewItem): Promise<Item>;
  /** Delete; not_found if absent. */
  delete(key: string): Promise<void>;
  /** Delete only if the current revision is `expectedRevision`; else compare_failed. */
  deleteIfRevision(key: string, expectedRevision: string): Promise<void>;
  /** Items whose key starts with prefix, in key (byte) order; a page of them with `opts`. */
  list(prefix: string, opts?: ListOptions): Promise<Item[]>;
  /** How many live items have keys starting with prefix (one COUNT query: the metrics' gauges). */
  count?(prefix: string): Promise<number>;
  /**
   * Several keys change together or not at all: every op's condition is checked, then every
   * action applied, in one transaction. compare_failed (naming the first key whose condition
   * failed) when any condition fails, and then nothing is written. The result has one entry
   * per op: the written item for a put, null otherwise.
   */
  atomic(ops: AtomicOp[]): Promise<(Item | null)[]>;
  /** Remove expired items now (the server also calls this periodically); how many. */
  purgeExpired(): Promise<number>;
  close(): Promise<void>;
}

/** Helpers that keep JSON handling in one place. */
export function jsonItem<T>(key: string, value: T, expires?: Date): NewItem {
  return expires ? { key, value: JSON.stringify(value), expires } : { key, value: JSON.stringify(value) };
}

export function parseItem<T>(item: Item): T {
  return JSON.parse(item.value) as T;
}

export function newRevision(): string {
  return crypto.randomUUID();
}

/** Both backends accept the same page options and refuse the same mistakes. */
export function checkListOptions(opts: ListOptions | undefined): { limit?: number; startAfter: string } {
  const limit = opts?.limit;
  if (limit !== undefined && !(Number.isSafeInteger(limit) && limit > 0))
    throw badParameter(`list: limit must be a positive integer, not ${limit}`);
  return { limit, startAfter: opts?.startAfter ?? "" };
}
