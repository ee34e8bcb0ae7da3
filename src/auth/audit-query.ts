// Reading the shared audit log a page at a time: a time range is a key range (audit-store.ts),
// kind and bot are filters applied while scanning. One request reads at most SCAN_BUDGET
// items, whatever the filters, so a rare kind over months of events costs several requests,
// never one unbounded one; the cursor says where the next request carries on.

import type { AuditRecord } from "./audit.ts";
import { AUDIT_PREFIX, AUDIT_TIME_LENGTH } from "./audit-store.ts";
import type { Backend } from "./backend/backend.ts";

/** Items one request may read before it answers with what it found and a cursor. */
export const AUDIT_SCAN_BUDGET = 2000;
/** Items read per backend call while filtering. */
const FILTERED_READ = 250;

export interface AuditQuery {
  since?: Date;
  /** Inclusive, to the millisecond. */
  until?: Date;
  /** Event kinds, any of them (e.g. ["bot.update"]). */
  kinds?: string[];
  /** Events about this bot (see eventBot). */
  bot?: string;
  /** Events per page (positive). */
  limit: number;
  /** A previous page's `next`. */
  startAfter?: string;
}

export interface AuditEntry extends AuditRecord {
  /** The event's key suffix: unique across replicas, in time order. (Events have `id` fields of their own.) */
  event_id: string;
}

export interface AuditPage {
  events: AuditEntry[];
  /** Where the next page starts; absent when the range is exhausted. */
  next?: string;
}

type Target = { bot?: unknown };

/** The bot an event is about: its `bot` field, a bot resource's name, a lock's target. */
export function eventBot(e: AuditRecord): string | undefined {
  if (typeof e.bot === "string") return e.bot;
  if (typeof e.bot_name === "string") return e.bot_name;
  if (e.kind === "bot" && typeof e.name === "string") return e.name;
  const t = e.target as Target | undefined;
  if (t && typeof t === "object" && typeof t.bot === "string") return t.bot;
  return undefined;
}

function matcher(q: AuditQuery): ((e: AuditRecord) => boolean) | null {
  const kinds = q.kinds?.length ? new Set(q.kinds) : null;
  if (!kinds && q.bot === undefined) return null;
  return (e) => (!kinds || kinds.has(e.event)) && (q.bot === undefined || eventBot(e) === q.bot);
}

export async function queryAudit(backend: Backend, q: AuditQuery): Promise<AuditPage> {
  // An id that starts with the since-instant sorts after it, so the instant itself is included.
  const since = q.since?.toISOString() ?? "";
  let after = q.startAfter !== undefined && q.startAfter > since ? q.startAfter : since;
  const until = q.until?.toISOString();
  const match = matcher(q);
  const events: AuditEntry[] = [];
  let scanned = 0;
  while (scanned < AUDIT_SCAN_BUDGET) {
    const want = Math.min(AUDIT_SCAN_BUDGET - scanned, match ? FILTERED_READ : q.limit - events.length);
    const items = await backend.list(AUDIT_PREFIX, {
      limit: want,
      ...(after ? { startAfter: AUDIT_PREFIX + after } : {}),
    });
    for (const it of items) {
      const id = it.key.slice(AUDIT_PREFIX.length);
      if (until !== undefined && id.slice(0, AUDIT_TIME_LENGTH) > until) return { events };
      after = id;
      scanned++;
      const rec = JSON.parse(it.value) as AuditRecord;
      if (match && !match(rec)) continue;
      events.push({ ...rec, event_id: id });
      if (events.length >= q.limit) return { events, next: after };
    }
    if (items.length < want) return { events };
  }
  return { events, next: after };
}
