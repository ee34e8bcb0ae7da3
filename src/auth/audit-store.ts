// The audit log in the backend, the one every replica shares: each event is an item
// /audit/<time>-<seq>-<random>. The time is this replica's clock in fixed-width UTC
// (toISOString), so keys sort by time and a time range is a key range; <seq> orders events of
// one replica within a millisecond; <random> keeps two replicas' keys apart. Items expire
// after the retention period (the backend's expiry sweep removes them), so the log never
// grows without bound.
//
// emit() never waits for the database: events queue and are written in batches (one atomic
// write per batch, a group commit). flush() waits for what was emitted before it; the API
// calls it before answering, so an event is in the shared log once its request is answered.
// An event that cannot be written (the database is down) is logged as lost: audit.log on the
// replica still has it.

import { logger } from "../util/log.ts";
import { type AuditEvent, type AuditSink, type AuditStamp, auditRecord } from "./audit.ts";
import { MAX_ATOMIC_OPS } from "./backend/atomic.ts";
import type { Backend } from "./backend/backend.ts";

export const AUDIT_PREFIX = "/audit/";
export const DEFAULT_AUDIT_RETENTION_MS = 90 * 86_400_000;
/** Events waiting for the database beyond this are dropped (and counted), never buffered forever. */
export const MAX_AUDIT_QUEUE = 10_000;
/** Length of the time part of a key: "2025-01-02T03:04:05.678Z". */
export const AUDIT_TIME_LENGTH = 24;

const log = logger("AUDIT");

const randomSuffix = () => Buffer.from(crypto.getRandomValues(new Uint8Array(6))).toString("hex");

/** The key suffix (after /audit/) of an event at `time`, the `seq`th of its millisecond here. */
export function auditId(time: Date, seq: number, random = randomSuffix()): string {
  return `${time.toISOString()}-${seq.toString(36).padStart(4, "0")}-${random}`;
}

export interface BackendAuditOptions {
  retentionMs?: number;
  now?: () => number;
}

export class BackendAuditLog implements AuditSink {
  private queue: { id: string; value: string; expires: Date }[] = [];
  private writing: Promise<void> | null = null;
  private emitted = 0;
  private settled = 0;
  private waiters: { upTo: number; resolve: () => void }[] = [];
  private lastMs = 0;
  private seq = 0;
  private lost = 0;
  private readonly retentionMs: number;
  private readonly now: () => number;

  constructor(
    private readonly backend: Backend,
    opts: BackendAuditOptions = {},
  ) {
    this.retentionMs = opts.retentionMs ?? DEFAULT_AUDIT_RETENTION_MS;
    this.now = opts.now ?? Date.now;
  }

  /** The next event's time and ID: never backwards within this process, so one replica's events keep their order. */
  nextStamp(): AuditStamp {
    const ms = Math.max(this.now(), this.lastMs);
    this.seq = ms === this.lastMs ? this.seq + 1 : 0;
    this.lastMs = ms;
    const time = new Date(ms);
    return { time, id: auditId(time, this.seq) };
  }

  emit(event: AuditEvent, fields: Record<string, unknown>, stamp = this.nextStamp()): void {
    if (this.queue.length >= MAX_AUDIT_QUEUE) {
      this.noteLost(1, "the queue is full");
      return;
    }
    this.queue.push({
      id: stamp.id,
      value: JSON.stringify(auditRecord(event, fields, stamp.time)),
      expires: new Date(stamp.time.getTime() + this.retentionMs),
    });
    this.emitted++;
    this.kick();
  }

  /**
   * Events of this replica's audit.log that may be missing from the shared log: written there
   * just before the process was killed, before their batch reached the database (a request
   * answered never is: answers wait for flush). Sent again at start; a put of the same ID and
   * value is harmless when the first one did land.
   */
  replay(records: { id: string; record: Record<string, unknown> }[]): void {
    for (const { id, record } of records) {
      const time = Date.parse(String(record.time));
      if (!Number.isFinite(time) || this.queue.length >= MAX_AUDIT_QUEUE) continue;
      this.queue.push({ id, value: JSON.stringify(record), expires: new Date(time + this.retentionMs) });
      this.emitted++;
    }
    this.kick();
  }

  flush(): Promise<void> {
    const upTo = this.emitted;
    if (this.settled >= upTo) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ upTo, resolve }));
  }

  private kick(): void {
    if (this.writing) return;
    this.writing = this.drain().finally(() => {
      this.writing = null;
      if (this.queue.length) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length) {
      const batch = this.queue.splice(0, MAX_ATOMIC_OPS);
      try {
        await this.backend.atomic(
          batch.map((e) => ({
            key: AUDIT_PREFIX + e.id,
            condition: { kind: "any" as const },
            action: { kind: "put" as const, value: e.value, expires: e.expires },
          })),
        );
        if (this.lost) {
          log.warn("Audit events are written to the backend again", { lost: this.lost });
          this.lost = 0;
        }
      } catch (e) {
        this.noteLost(batch.length, (e as Error).message);
      }
      this.settled += batch.length;
      const done = this.waiters.filter((w) => w.upTo <= this.settled);
      this.waiters = this.waiters.filter((w) => w.upTo > this.settled);
      for (const w of done) w.resolve();
    }
  }

  /** One warning when losing starts; the count when writing works again. */
  private noteLost(n: number, why: string): void {
    if (this.lost === 0)
      log.warn("Audit events could not be written to the backend; this replica's audit.log has them", {
        error: why,
      });
    this.lost += n;
  }
}
