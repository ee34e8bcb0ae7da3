// Change feed: how a replica learns that keys it keeps in memory (locks, lock-index.ts)
// changed, whoever changed them.
//
// - This process's own writes are announced by `watchWrites`, a Backend wrapper, right after
//   they succeed and with the written value: the replica that wrote sees its change at once.
// - Other replicas' writes arrive by PostgreSQL LISTEN/NOTIFY (change-feed-pg.ts); the
//   database sends them from a trigger, in the writing transaction (postgres-schema.ts).
// - Notifications sent while a listener is disconnected are lost. So whenever the feed
//   (re)connects it asks for a full reload (`resync`), and listeners also reload slowly on
//   their own as a safety net.
//
// - On SQLite, other processes on the same file (tauth's workers) are followed by polling a
//   journal that triggers keep (change-feed-sqlite.ts).

import type { AtomicOp, Backend, Item, NewItem } from "./backend.ts";

/** Key prefixes whose changes are announced (the PostgreSQL trigger watches the same ones). */
export const WATCHED_PREFIXES = ["/locks/"] as const;

export const isWatched = (key: string) => WATCHED_PREFIXES.some((p) => key.startsWith(p));

export interface FeedListener {
  /**
   * `key` changed. `value` is the new JSON (null: deleted) when it is known for certain, as
   * for this process's own writes; undefined when the listener must read it.
   */
  changed(key: string, value?: string | null): void;
  /** Changes may have been missed: reload everything. */
  resync(): void;
}

export class ChangeFeed {
  private readonly listeners = new Set<FeedListener>();

  subscribe(l: FeedListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  changed(key: string, value?: string | null): void {
    if (!isWatched(key)) return;
    for (const l of this.listeners) l.changed(key, value);
  }

  resync(): void {
    for (const l of this.listeners) l.resync();
  }
}

/**
 * `backend` with every successful write to a watched key announced on `feed`. Everything
 * else (reads, the expiry sweep — watched keys never expire —, a backend's own extras) goes
 * to `backend` untouched: a Proxy, so methods added to a backend later pass through too.
 */
export function watchWrites<B extends Backend>(backend: B, feed: ChangeFeed): B {
  const announce: Partial<Backend> = {
    async create(item: NewItem): Promise<Item> {
      const r = await backend.create(item);
      feed.changed(item.key, item.value);
      return r;
    },
    async put(item: NewItem): Promise<Item> {
      const r = await backend.put(item);
      feed.changed(item.key, item.value);
      return r;
    },
    async compareAndSwap(expectedRevision: string, item: NewItem): Promise<Item> {
      const r = await backend.compareAndSwap(expectedRevision, item);
      feed.changed(item.key, item.value);
      return r;
    },
    async delete(key: string): Promise<void> {
      await backend.delete(key);
      feed.changed(key, null);
    },
    async deleteIfRevision(key: string, expectedRevision: string): Promise<void> {
      await backend.deleteIfRevision(key, expectedRevision);
      feed.changed(key, null);
    },
    async atomic(ops: AtomicOp[]): Promise<(Item | null)[]> {
      const r = await backend.atomic(ops);
      for (const op of ops) {
        if (op.action.kind === "put") feed.changed(op.key, op.action.value);
        if (op.action.kind === "delete") feed.changed(op.key, null);
      }
      return r;
    },
  };
  return new Proxy(backend, {
    get(target, prop) {
      if (typeof prop === "string" && Object.hasOwn(announce, prop)) return announce[prop as keyof Backend];
      const v = Reflect.get(target, prop, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}
