// A typed view of one kind of resource in the backend: JSON values under one key prefix.

import { createHash } from "node:crypto";
import type { AtomicOp, Condition } from "../backend/atomic.ts";
import type { Backend, Item } from "../backend/backend.ts";
import { jsonItem, parseItem } from "../backend/backend.ts";

export interface Stored<T> {
  value: T;
  revision: string;
  expires?: Date;
}

/**
 * How a value is changed on its way into the backend and back: tokens keep secret names out
 * of the stored value and get them back from the name they were looked up by.
 */
export interface StoredForm<T> {
  /** The value as stored under `name`. */
  store(name: string, value: T): T;
  /** The stored value as callers see it; `name` is given when the caller looked it up by name. */
  load(value: T, name?: string): T;
}

/** One page of a collection. */
export interface Page<T> {
  items: Stored<T>[];
  /**
   * Where the next page starts (pass it as `startAfter`): the last key's suffix, so a token
   * page cursor is a hash, never a secret name. Absent when this page was not full.
   */
  next?: string;
}

const asIs: StoredForm<never> = { store: (_n, v) => v, load: (v) => v };

export class Collection<T> {
  constructor(
    private readonly backend: Backend,
    private readonly prefix: string,
    /** How a name becomes a key suffix; tokens hash theirs so the secret is never a key. */
    private readonly keyOf: (name: string) => string = (n) => n,
    private readonly form: StoredForm<T> = asIs as StoredForm<T>,
  ) {}

  key(name: string): string {
    return this.prefix + this.keyOf(name);
  }

  async get(name: string): Promise<Stored<T> | null> {
    return this.wrap(await this.backend.get(this.key(name)), name);
  }

  /** Fetch by an already-computed key suffix (e.g. a token hash). */
  async getBySuffix(suffix: string): Promise<Stored<T> | null> {
    return this.wrap(await this.backend.get(this.prefix + suffix));
  }

  async list(subPrefix = ""): Promise<Stored<T>[]> {
    return (await this.backend.list(this.prefix + subPrefix)).map((i) => this.wrap(i)!);
  }

  /** Up to `limit` items after the cursor `startAfter` (a previous page's `next`), in key order. */
  async listPage(opts: { limit: number; startAfter?: string; subPrefix?: string }): Promise<Page<T>> {
    const items = await this.backend.list(this.prefix + (opts.subPrefix ?? ""), {
      limit: opts.limit,
      ...(opts.startAfter !== undefined ? { startAfter: this.prefix + opts.startAfter } : {}),
    });
    const page: Page<T> = { items: items.map((i) => this.wrap(i)!) };
    const last = items[items.length - 1];
    if (last && items.length === opts.limit) page.next = last.key.slice(this.prefix.length);
    return page;
  }

  async create(name: string, value: T, expires?: Date): Promise<Stored<T>> {
    const it = await this.backend.create(this.item(name, value, expires));
    return { value, revision: it.revision };
  }

  async put(name: string, value: T, expires?: Date): Promise<Stored<T>> {
    const it = await this.backend.put(this.item(name, value, expires));
    return { value, revision: it.revision };
  }

  async compareAndSwap(name: string, expectedRevision: string, value: T, expires?: Date): Promise<Stored<T>> {
    const it = await this.backend.compareAndSwap(expectedRevision, this.item(name, value, expires));
    return { value, revision: it.revision };
  }

  /** Writing `value` under `name` as one op of a `backend.atomic` list, if `condition` holds. */
  putOp(name: string, value: T, condition: Condition, expires?: Date): AtomicOp {
    const it = this.item(name, value, expires);
    return {
      key: it.key,
      condition,
      action: { kind: "put", value: it.value, ...(it.expires ? { expires: it.expires } : {}) },
    };
  }

  async delete(name: string): Promise<void> {
    await this.backend.delete(this.key(name));
  }

  async deleteIfRevision(name: string, revision: string): Promise<void> {
    await this.backend.deleteIfRevision(this.key(name), revision);
  }

  private item(name: string, value: T, expires?: Date) {
    return jsonItem(this.key(name), this.form.store(name, value), expires);
  }

  private wrap(item: Item | null, name?: string): Stored<T> | null {
    if (!item) return null;
    const out: Stored<T> = { value: this.form.load(parseItem<T>(item), name), revision: item.revision };
    if (item.expires) out.expires = item.expires;
    return out;
  }
}

export const sha256Hex = (s: string) => createHash("sha256").update(s).digest("hex");
