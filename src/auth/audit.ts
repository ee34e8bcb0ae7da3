// Audit log: one JSON object per line in <data-dir>/audit.log (0600). Events name what
// happened and to whom; secrets (token names of the `token` method, keys, registration
// secrets) are never written, only their hashes' short prefixes.

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

export interface AuditSink {
  emit(event: AuditEvent, fields: Record<string, unknown>): void;
}

export class FileAuditLog implements AuditSink {
  // One descriptor for the process's lifetime: an open/close per event costs more than the
  // write itself on the join hot path.
  private readonly fd: number;
  constructor(path: string) {
    this.fd = openSync(path, "a", 0o600);
  }
  emit(event: AuditEvent, fields: Record<string, unknown>): void {
    writeSync(this.fd, `${JSON.stringify({ time: new Date().toISOString(), event, ...fields })}\n`);
  }
  close(): void {
    closeSync(this.fd);
  }
}
