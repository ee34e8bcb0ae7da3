// Audit log: one JSON object per event, written twice: a line in <data-dir>/audit.log (0600),
// this replica's local record, and an item in the backend (audit-store.ts), the log every
// replica shares and `tctl audit ls` reads. Events name what happened and to whom; secrets
// (token names of the `token` method, keys, registration secrets) are never written, only
// their hashes' short prefixes.

import { closeSync, openSync, writeSync } from "node:fs";

export type AuditEvent =
  | "bot.join"
  | "bot.join.failed"
  | "cert.renew"
  | "cert.renew.failed"
  | "cert.create"
  | "renewable_certificate_generation_mismatch"
  | "lock.create"
  | "lock.delete"
  | "resource.create"
  | "resource.update"
  | "resource.delete"
  | "join_token.create"
  | "auth.start"
  | (string & {});

/** When an event happened and its ID in the shared log: one for every sink it goes to. */
export interface AuditStamp {
  time: Date;
  id: string;
}

export interface AuditSink {
  /** Never blocks and never throws: an event is recorded on the side of the request. */
  emit(event: AuditEvent, fields: Record<string, unknown>, stamp?: AuditStamp): void;
  /** Resolves once every event emitted before the call is written (or given up on). */
  flush?(): Promise<void>;
}

/** One event as stored: its time and kind first, then its fields, every value bounded. */
export interface AuditRecord {
  time: string;
  event: string;
  [field: string]: unknown;
}

export const MAX_AUDIT_STRING = 256;
export const MAX_AUDIT_ARRAY = 32;
export const MAX_AUDIT_DEPTH = 4;
const MAX_AUDIT_KEYS = 32;

function truncateString(s: string): string {
  if (s.length <= MAX_AUDIT_STRING) return s;
  return `${s.slice(0, MAX_AUDIT_STRING)}…[truncated ${s.length - MAX_AUDIT_STRING} chars]`;
}

/** A copy of an audit field value with every string, array and object bounded. */
export function boundAuditValue(v: unknown, depth = 0): unknown {
  if (typeof v === "string") return truncateString(v);
  if (v === null || typeof v !== "object") return typeof v === "bigint" ? String(v) : v;
  if (v instanceof Date) return v.toISOString();
  if (depth >= MAX_AUDIT_DEPTH) return "…[truncated: nested too deep]";
  if (Array.isArray(v)) {
    const out = v.slice(0, MAX_AUDIT_ARRAY).map((x) => boundAuditValue(x, depth + 1));
    if (v.length > MAX_AUDIT_ARRAY) out.push(`…[truncated ${v.length - MAX_AUDIT_ARRAY} entries]`);
    return out;
  }
  const out: Record<string, unknown> = {};
  const keys = Object.keys(v);
  for (const k of keys.slice(0, MAX_AUDIT_KEYS))
    Object.defineProperty(out, truncateString(k), {
      value: boundAuditValue((v as Record<string, unknown>)[k], depth + 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  if (keys.length > MAX_AUDIT_KEYS) out["…truncated"] = `${keys.length - MAX_AUDIT_KEYS} more keys`;
  return out;
}

/** The event as stored, every field bounded. */
export function auditRecord(
  event: AuditEvent,
  fields: Record<string, unknown>,
  time = new Date(),
): AuditRecord {
  const bounded = boundAuditValue(fields, -1) as Record<string, unknown>;
  return { time: time.toISOString(), event: truncateString(event), ...bounded };
}

/** The line written for an event: one JSON object, every field bounded. */
export function auditLine(event: AuditEvent, fields: Record<string, unknown>, time = new Date()): string {
  return `${JSON.stringify(auditRecord(event, fields, time))}\n`;
}

export class FileAuditLog implements AuditSink {
  // One descriptor for the process's lifetime: an open/close per event costs more than the
  // write itself on the join hot path.
  private readonly fd: number;
  constructor(path: string) {
    this.fd = openSync(path, "a", 0o600);
  }
  emit(event: AuditEvent, fields: Record<string, unknown>, stamp?: AuditStamp): void {
    // The shared log's ID rides along, so a restart can send what the shared log missed
    // (audit-replay.ts).
    const line = stamp
      ? auditLine(event, { ...fields, audit_id: stamp.id }, stamp.time)
      : auditLine(event, fields);
    writeSync(this.fd, line);
  }
  close(): void {
    closeSync(this.fd);
  }
}

/** Every event to each sink (the local file and the shared backend log), with one stamp. */
export class TeeAuditSink implements AuditSink {
  constructor(
    private readonly sinks: AuditSink[],
    private readonly stamp?: () => AuditStamp,
  ) {}
  emit(event: AuditEvent, fields: Record<string, unknown>): void {
    const stamp = this.stamp?.();
    for (const s of this.sinks) s.emit(event, fields, stamp);
  }
  async flush(): Promise<void> {
    await Promise.all(this.sinks.map((s) => s.flush?.()));
  }
}
