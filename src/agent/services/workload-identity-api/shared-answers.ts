// Which cached Workload API answers one process may be given that another asked for. tauth says,
// with each answer, which `workload.*` attributes the selected identities' rules and templates
// read (workload_attributes_read); processes that agree on those share one answer, as a SPIRE
// agent shares an entry's SVID, so a uid's thousand processes cost one issuance, not a
// thousand. A shared answer reaches a process it was not given to only while fresh
// (SHARED_FRESH_MS), so rule changes reach new processes within that time.

import type { WorkloadAttributes as ApiAttributes } from "../../../protocol/messages.ts";

/**
 * A shared answer is handed to a process it was not given to before only this long after it
 * was issued; later, that process gets one of its own under the rules of the moment. So a rule
 * or template change (a uid no longer allowed) reaches new processes within this time, while a
 * flood of new processes of one uid costs at most one issuance per this time.
 */
const SHARED_FRESH_MS = 30_000;
/** Processes remembered per entry; past this the set starts again (they then count as new). */
const MAX_SERVED = 4096;

/** What a cached answer records of whom it was given to. */
export interface Served {
  issuedAt: number;
  /** When a workload was last given it (a shared entry no one asks for is dropped). */
  usedAt: number;
  /** The processes it was given to: they get it again whatever its age. */
  served?: Set<number>;
}

/** Record that process `pid` was given this answer. */
export function serve(e: Served, pid: number, now: number): void {
  e.usedAt = now;
  if (!e.served || e.served.size >= MAX_SERVED) e.served = new Set();
  e.served.add(pid);
}

/** Whether a `shared` answer is too old to hand to `pid`, which it was not given to before. */
export function tooOldToShare(e: Served, shared: boolean, pid: number, now: number): boolean {
  return shared && !e.served?.has(pid) && now - e.issuedAt > SHARED_FRESH_MS;
}

/** The value of `workload.unix.uid` and the like in the attributes sent to tauth. */
function attributeValue(a: ApiAttributes, path: string): unknown {
  let cur: unknown = a;
  for (const part of path.slice("workload.".length).split(".")) {
    if (!cur || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/**
 * The cache key of a workload's answer. Given what tauth said the selected identities read of
 * the workload (`read`), only those attributes, so workloads that agree on them share one
 * answer (one issuance per uid, say, rather than per process). Without it (no answer yet, or
 * an older tauth), all of them: one answer per process. The key names the paths it used, so
 * keys made with different `read` sets never meet.
 */
export function cacheKey(a: ApiAttributes, read: string[] | undefined): string {
  if (!read) return JSON.stringify(a);
  return JSON.stringify({ read: read.map((p) => [p, attributeValue(a, p) ?? null]) });
}
