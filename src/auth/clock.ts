// The auth service's "now": the database's clock when replicas share one (PostgreSQL), this
// machine's otherwise. Replicas whose clocks disagree must still agree on what has expired:
// a join token's expiry, a join continuation's, a bound-keypair challenge's, a certificate's
// validity. The backend already decides row expiry by the database clock; everything the
// service itself compares with "now" uses this.
//
// Reading the database for every comparison would cost a round trip each; instead the
// offset from the local clock is measured (the sample with the shortest round trip of a few,
// halfway through it) and measured again every SYNC_INTERVAL_MS, so a local clock that is
// stepped later is followed too. A failed measurement keeps the last offset.

import { logger } from "../util/log.ts";
import type { Backend } from "./backend/backend.ts";

const log = logger("AUTH");

export const SYNC_INTERVAL_MS = 30_000;
const SAMPLES = 3;

/** A backend with a clock of its own (PostgreSQL). */
interface TimedBackend extends Backend {
  databaseNow(): Promise<number>;
}

const hasClock = (b: Backend): b is TimedBackend =>
  typeof (b as Partial<TimedBackend>).databaseNow === "function";

export class ClusterClock {
  private offsetMs = 0;
  private timer?: ReturnType<typeof setInterval>;

  private constructor(private readonly backend?: TimedBackend) {}

  /** The clock for `backend`: measured now, then kept measured. */
  static async start(backend: Backend): Promise<ClusterClock> {
    if (!hasClock(backend)) return new ClusterClock();
    const c = new ClusterClock(backend);
    await c.sync();
    if (Math.abs(c.offsetMs) > 1000)
      log.warn("This machine's clock differs from the database's; times are taken from the database", {
        offset_ms: Math.round(c.offsetMs),
      });
    c.timer = setInterval(
      () => c.sync().catch((e) => log.debug("Clock sync failed", { error: (e as Error).message })),
      SYNC_INTERVAL_MS,
    );
    c.timer.unref?.();
    return c;
  }

  /** Milliseconds since the epoch, by the cluster's clock. */
  now(): number {
    return Date.now() + this.offsetMs;
  }

  /** How far the cluster's clock is ahead of this machine's. */
  get offset(): number {
    return this.offsetMs;
  }

  private async sync(): Promise<void> {
    let best: { rtt: number; offset: number } | null = null;
    for (let i = 0; i < SAMPLES; i++) {
      const t0 = Date.now();
      const db = await this.backend!.databaseNow();
      const t1 = Date.now();
      const sample = { rtt: t1 - t0, offset: db - (t0 + t1) / 2 };
      if (!best || sample.rtt < best.rtt) best = sample;
    }
    this.offsetMs = best!.offset;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
