// Per-address token buckets for unauthenticated joins. Each source IP (not IP:port) has a
// bucket of `burst` joins refilled at `rate` per second; a join that finds it empty is refused
// with 429 and Retry-After (whole seconds until one token is back). Refusals are audited in
// aggregate: one `join.rate_limited` line per address per window, with the count, never one
// line per refused request, so a flood costs the audit log a line a minute per address.

import type { AuditSink } from "../audit.ts";

interface Bucket {
  tokens: number;
  /** performance.now() of the last refill. */
  at: number;
}

interface Refusals {
  count: number;
  first: Date;
}

/** Buckets kept at most; past this, full (idle) buckets are dropped first, then the oldest. */
const MAX_TRACKED = 100_000;
const OTHERS = "(other addresses)";

export class JoinRateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly refused = new Map<string, Refusals>();
  private readonly timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly audit: AuditSink,
    private readonly windowMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (this.enabled) {
      this.timer = setInterval(() => this.flush(), windowMs);
      this.timer.unref?.();
    }
  }

  get enabled(): boolean {
    return this.rate > 0;
  }

  /** Takes one token for `ip`: 0 when allowed, else the seconds to wait (Retry-After). */
  take(ip: string): number {
    if (!this.enabled) return 0;
    const t = this.now();
    let b = this.buckets.get(ip);
    if (b) {
      b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.rate);
      b.at = t;
      // Re-insert so the map's order is least recently used first (for pruning).
      this.buckets.delete(ip);
      this.buckets.set(ip, b);
    } else {
      if (this.buckets.size >= MAX_TRACKED) this.prune(t);
      b = { tokens: this.burst, at: t };
      this.buckets.set(ip, b);
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    // Past MAX_TRACKED addresses in one window, the rest are counted together.
    const key = this.refused.has(ip) || this.refused.size < MAX_TRACKED ? ip : OTHERS;
    const r = this.refused.get(key);
    if (r) r.count++;
    else this.refused.set(key, { count: 1, first: new Date() });
    return Math.max(1, Math.ceil((1 - b.tokens) / this.rate));
  }

  /** Writes one aggregate line per address refused since the last flush. */
  flush(): void {
    const windowSeconds = Math.round(this.windowMs / 1000);
    for (const [ip, r] of this.refused)
      this.audit.emit("join.rate_limited", {
        remote_ip: ip,
        refused: r.count,
        since: r.first.toISOString(),
        window_seconds: windowSeconds,
        limit: `${this.rate}/s, burst ${this.burst}`,
      });
    this.refused.clear();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.flush();
  }

  private prune(t: number): void {
    for (const [ip, b] of this.buckets)
      if (b.tokens + ((t - b.at) / 1000) * this.rate >= this.burst) this.buckets.delete(ip);
    // Still full of active addresses: forget the least recently seen tenth.
    if (this.buckets.size >= MAX_TRACKED) {
      let n = Math.ceil(MAX_TRACKED / 10);
      for (const ip of this.buckets.keys()) {
        if (n-- <= 0) break;
        this.buckets.delete(ip);
      }
    }
  }
}
