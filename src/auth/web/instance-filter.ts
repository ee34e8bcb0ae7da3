// The instance listing's filter and paging: which bot instances one page of /web/instances
// shows (by bot, health, version, join method), read a bounded number at a time.

import { instanceHealth } from "../../cli/tctl-bots-format.ts";
import type { AuthService } from "../service.ts";
import type { BotInstance } from "../store/types.ts";
import { WEB_PAGE } from "./page-kit.ts";

export interface InstanceFilter {
  bot?: string;
  /** healthy, failing, stale or unknown (as `tctl bots instances ls` shows it). */
  health?: string;
  /** The latest heartbeat's version, exactly. */
  version?: string;
  /** The join method of the instance's first join. */
  join_method?: string;
}

/** Instances read per request at most when filtering on fields that are not in the key. */
export const MAX_SCAN = 5000;

/**
 * One page of instances: a bot is a key range (one page read); health, version and join
 * method are not in the key, so the range is read on a page at a time until WEB_PAGE match or
 * MAX_SCAN are read, and `next` continues after the last instance read (a page may then hold
 * fewer rows: only `next` says whether there is more). Never the whole prefix per request.
 */
export async function instancePage(
  svc: AuthService,
  f: InstanceFilter,
  after: string | undefined,
  now: number,
): Promise<{ items: BotInstance[]; next?: string; scanned?: number }> {
  const sub = f.bot ? { subPrefix: `${f.bot}/` } : {};
  if (!f.health && !f.version && !f.join_method) {
    const page = await svc.instances.listPage({ limit: WEB_PAGE, startAfter: after, ...sub });
    return { items: page.items.map((x) => x.value), next: page.next };
  }
  const keep = (i: BotInstance) => {
    if (f.health) {
      const h = instanceHealth(i, now);
      if (f.health === "failing" ? !h.endsWith(" failing") : h !== f.health) return false;
    }
    const beats = i.status.latest_heartbeats ?? [];
    if (f.version && beats[beats.length - 1]?.version !== f.version) return false;
    if (f.join_method && i.status.initial_authentication?.join_method !== f.join_method) return false;
    return true;
  };
  const items: BotInstance[] = [];
  let scanned = 0;
  let cursor = after;
  /** Where the next page starts once this one is full: after its last row. */
  let full: string | undefined;
  for (;;) {
    const page = await svc.instances.listPage({ limit: 500, startAfter: cursor, ...sub });
    for (const it of page.items) {
      scanned++;
      cursor = `${it.value.spec.bot_name}/${it.value.spec.instance_id}`;
      if (keep(it.value)) {
        // One more match after a full page: there is a next page (no empty last page).
        if (full !== undefined) return { items, next: full, scanned };
        items.push(it.value);
        if (items.length === WEB_PAGE) full = cursor;
      }
      if (scanned >= MAX_SCAN) {
        const more = it !== page.items[page.items.length - 1] || page.next !== undefined;
        return more ? { items, next: full ?? cursor, scanned } : { items, scanned };
      }
    }
    if (page.next === undefined) return { items, scanned };
    cursor = page.next;
  }
}
