// Locks in memory, indexed by what they target, so the check on every request is a map
// lookup and not a read of every lock. Kept current by the change feed (backend/
// change-feed.ts): this replica's own writes at once, other replicas' by LISTEN/NOTIFY within
// milliseconds, and a full reload whenever the feed (re)connects — notifications sent while
// it was away are lost — and every LOCK_RELOAD_INTERVAL_MS as a safety net.
//
// Reads are applied one at a time, in order, so a slow read cannot overwrite a newer one;
// and a read that began before one of this replica's own writes to the same lock is dropped
// (that write is read back after it anyway).

import { logger } from "../util/log.ts";
import type { Backend } from "./backend/backend.ts";
import type { ChangeFeed, FeedListener } from "./backend/change-feed.ts";
import type { Lock, LockTarget } from "./store/types.ts";

const log = logger("AUTH");

export const LOCK_PREFIX = "/locks/";
export const LOCK_RELOAD_INTERVAL_MS = 60_000;

/** Who is asking: each field that is set is looked up. */
export interface Who {
  bot?: string;
  instance?: string;
  token?: string;
  adminIdentity?: string;
}

function targetKeys(t: LockTarget): string[] {
  const out: string[] = [];
  if (t.bot !== undefined) out.push(`bot\0${t.bot}`);
  if (t.bot_instance_id !== undefined) out.push(`instance\0${t.bot_instance_id}`);
  if (t.join_token !== undefined) out.push(`token\0${t.join_token}`);
  if (t.admin_identity !== undefined) out.push(`admin\0${t.admin_identity}`);
  return out;
}

const whoKeys = (w: Who) =>
  targetKeys({
    bot: w.bot,
    bot_instance_id: w.instance,
    join_token: w.token,
    admin_identity: w.adminIdentity,
  });

function parseLock(value: string): Lock | null {
  try {
    const l = JSON.parse(value) as Lock;
    return l?.spec?.target && typeof l.metadata?.name === "string" ? l : null;
  } catch {
    return null;
  }
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class LockIndex implements FeedListener {
  private byId = new Map<string, Lock>();
  private byTarget = new Map<string, Map<string, Lock>>();
  /** Keys to read again, and whether everything must be. */
  private dirty = new Set<string>();
  private reloadWanted = false;
  private pumping = false;
  /** A counter of events, and the event at which this replica last wrote each key itself. */
  private tick = 0;
  private readonly ownWriteAt = new Map<string, number>();
  private timer?: ReturnType<typeof setInterval>;
  private unsubscribe?: () => void;
  private closed = false;

  constructor(
    private readonly backend: Backend,
    private readonly reloadIntervalMs = LOCK_RELOAD_INTERVAL_MS,
  ) {}

  /**
   * Load every lock, then follow `feed`; fails (and tauth serves nothing) if the load does.
   * Start the cross-replica feed after this: its first subscription asks for a reload, which
   * covers what changed in between.
   */
  async start(feed: ChangeFeed): Promise<void> {
    await this.reload();
    this.unsubscribe = feed.subscribe(this);
    this.timer = setInterval(() => this.resync(), this.reloadIntervalMs);
    this.timer.unref?.();
  }

  stop(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.unsubscribe?.();
  }

  /** The lock that denies `who`, if any (the lowest ID when several do). */
  find(who: Who): Lock | null {
    let found: Lock | null = null;
    for (const k of whoKeys(who))
      for (const l of this.byTarget.get(k)?.values() ?? [])
        if (!found || l.metadata.name < found.metadata.name) found = l;
    return found;
  }

  get size(): number {
    return this.byId.size;
  }

  changed(key: string, value?: string | null): void {
    if (!key.startsWith(LOCK_PREFIX)) return;
    if (value !== undefined) {
      this.ownWriteAt.set(key, ++this.tick);
      this.set(key.slice(LOCK_PREFIX.length), value === null ? null : parseLock(value));
    }
    this.dirty.add(key);
    this.pump();
  }

  resync(): void {
    this.reloadWanted = true;
    this.pump();
  }

  private set(id: string, lock: Lock | null): void {
    const old = this.byId.get(id);
    if (old) for (const k of targetKeys(old.spec.target)) this.byTarget.get(k)?.delete(id);
    if (!lock) {
      this.byId.delete(id);
      return;
    }
    this.byId.set(id, lock);
    for (const k of targetKeys(lock.spec.target)) {
      const m = this.byTarget.get(k) ?? new Map<string, Lock>();
      this.byTarget.set(k, m);
      m.set(id, lock);
    }
  }

  /** Whether this replica wrote `key` itself since event `since` (so a read from then is stale). */
  private ownWriteSince(key: string, since: number): boolean {
    const at = this.ownWriteAt.get(key);
    if (at === undefined) return false;
    if (at > since) return true;
    this.ownWriteAt.delete(key);
    return false;
  }

  private async reload(): Promise<void> {
    const since = ++this.tick;
    const items = await this.backend.list(LOCK_PREFIX);
    const keep = [...this.byId.keys()].filter((id) => this.ownWriteSince(LOCK_PREFIX + id, since));
    const kept = keep.map((id) => this.byId.get(id)!);
    this.byId = new Map();
    this.byTarget = new Map();
    for (const it of items) {
      const id = it.key.slice(LOCK_PREFIX.length);
      if (!this.ownWriteSince(it.key, since)) this.set(id, parseLock(it.value));
    }
    for (const l of kept) this.set(l.metadata.name, l);
  }

  private async refresh(key: string): Promise<void> {
    const since = ++this.tick;
    const item = await this.backend.get(key);
    if (this.ownWriteSince(key, since)) return;
    this.set(key.slice(LOCK_PREFIX.length), item ? parseLock(item.value) : null);
  }

  /** Works through what is pending, one read at a time; a failure becomes a full reload later. */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    let failures = 0;
    try {
      while (!this.closed && (this.reloadWanted || this.dirty.size > 0)) {
        try {
          if (this.reloadWanted) {
            this.reloadWanted = false;
            this.dirty.clear();
            await this.reload();
          } else {
            const keys = [...this.dirty];
            this.dirty.clear();
            for (const k of keys) await this.refresh(k);
          }
          failures = 0;
        } catch (e) {
          // The database is away: keep what is known, reload everything when it answers.
          if (failures === 0) log.warn("Reloading locks failed; retrying", { error: (e as Error).message });
          this.reloadWanted = true;
          await pause(Math.min(5000, 250 * 2 ** failures++));
        }
      }
    } finally {
      this.pumping = false;
    }
  }
}
