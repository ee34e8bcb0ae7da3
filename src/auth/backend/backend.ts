// The storage contract of the auth service: a key/value store with revisions and
// compare-and-swap. Every counter that guards against theft or reuse (single-use tokens,
// generation counters, recovery counters, bound keys) changes only through compareAndSwap
// or deleteIfRevision, so two concurrent requests can never both win. SQLite implements it
// now; PostgreSQL implements the same semantics and runs the same test suite.

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
  /** Items whose key starts with prefix, in key order. */
  list(prefix: string): Promise<Item[]>;
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
