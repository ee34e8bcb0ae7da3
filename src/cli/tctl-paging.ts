// tctl reads listings a page at a time (the server answers at most one page per request; see
// src/auth/api/admin-list.ts) and pages through transparently, so output is complete however
// large the fleet. TCTL_PAGE_SIZE sets the page size (tests use a small one).

import { DEFAULT_ADMIN_PAGE, MAX_ADMIN_PAGE } from "../protocol/admin-messages.ts";
import type { ApiClient } from "../protocol/client.ts";
import { UserError } from "../util/errors.ts";

export function pageSize(env: Record<string, string | undefined> = process.env): number {
  const v = env.TCTL_PAGE_SIZE;
  if (v === undefined || v === "") return DEFAULT_ADMIN_PAGE;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_ADMIN_PAGE)
    throw new UserError(`TCTL_PAGE_SIZE must be an integer from 1 to ${MAX_ADMIN_PAGE}, got "${v}"`);
  return n;
}

/** Each page's items of a paged admin operation, until the server says there are no more. */
export async function* pages<T>(
  api: ApiClient,
  op: string,
  body: Record<string, unknown>,
  field: string,
  size = pageSize(),
): AsyncGenerator<T[]> {
  let start: string | undefined;
  for (;;) {
    const r = await api.post<Record<string, unknown> & { next?: string }>(`/v1/admin/${op}`, {
      ...body,
      limit: size,
      ...(start !== undefined ? { start_after: start } : {}),
    });
    yield (r[field] ?? []) as T[];
    if (r.next === undefined) return;
    // A cursor that does not move would loop forever: a server bug, said as one.
    if (r.next === start) throw new Error(`${op}: the server returned the same page cursor twice`);
    start = r.next;
  }
}

/** Every resource of a kind (`tctl get`), all pages. */
export async function getAll<T = object>(api: ApiClient, body: Record<string, unknown>): Promise<T[]> {
  const all: T[] = [];
  for await (const page of pages<T>(api, "get", body, "resources")) all.push(...page);
  return all;
}
