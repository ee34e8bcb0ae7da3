// Aggregated audit of repeated refusals (the pattern of the join rate limiter's audit,
// rate-limit.ts, made reusable): the first refusal of a key opens a window for it and is
// written at once, so it is visible right away; the rest of the window's refusals are only
// counted, and when the window ends one more line carries that count. A flood of refused
// requests thus costs the audit log at most two lines per key per window. The keys tracked
// at once are bounded: past the bound, the rest are counted together under one key.

import type { AuditEvent, AuditSink } from "./audit.ts";

interface Pending {
  fields: Record<string, unknown>;
  /** Refusals after the first (the first was written when it happened). */
  more: number;
  first: Date;
  /** performance.now() of the first refusal: the window's start. */
  at: number;
}

const MAX_TRACKED = 10_000;
const OTHERS = "(others)";

export class AuditAggregator {
  private readonly pending = new Map<string, Pending>();
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly windowMs: number;

  constructor(
    private readonly audit: AuditSink,
    private readonly event: AuditEvent,
    windowMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.windowMs = windowMs > 0 ? windowMs : 60_000;
    this.timer = setInterval(() => this.flush(), Math.max(100, this.windowMs / 4));
    this.timer.unref?.();
  }

  /** One refusal for `key`; `fields` (never secrets) describe it on the lines written. */
  record(key: string, fields: Record<string, unknown>): void {
    const k = this.pending.has(key) || this.pending.size < MAX_TRACKED ? key : OTHERS;
    const p = this.pending.get(k);
    if (p) {
      p.more++;
      return;
    }
    const f = k === OTHERS ? { others: true } : fields;
    this.pending.set(k, { fields: f, more: 0, first: new Date(), at: this.now() });
    this.audit.emit(this.event, { ...f, refused: 1 });
  }

  /** Closes the windows that have ended (all of them with `all`), writing each one's count. */
  flush(all = false): void {
    const t = this.now();
    const windowSeconds = Math.round(this.windowMs / 1000);
    for (const [k, p] of this.pending) {
      if (!all && t - p.at < this.windowMs) continue;
      this.pending.delete(k);
      if (p.more > 0)
        this.audit.emit(this.event, {
          ...p.fields,
          refused: p.more,
          since: p.first.toISOString(),
          window_seconds: windowSeconds,
          aggregated: true,
        });
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.flush(true);
  }
}
