// At start: the events this replica's previous process wrote to its audit.log whose batch may
// not have reached the shared log (a kill -9 between the file write and the database write).
// Only the previous process's tail is read (after its last "auth.start"), at most the file's
// last 256 KiB and 1,000 events, so a start never reads a large log.

import { closeSync, fstatSync, openSync, readSync } from "node:fs";

const TAIL_BYTES = 256 << 10;
const MAX_EVENTS = 1000;

export interface LocalAuditEvent {
  id: string;
  /** The event as the shared log stores it (without the local-only audit_id). */
  record: Record<string, unknown>;
}

/** The previous process's last events in `path` that carry a shared-log ID; [] if none. */
export function unsentTail(path: string): LocalAuditEvent[] {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return [];
  }
  try {
    const size = fstatSync(fd).size;
    const start = Math.max(0, size - TAIL_BYTES);
    const buf = Buffer.alloc(size - start);
    readSync(fd, buf, 0, buf.length, start);
    const lines = buf.toString("utf8").split("\n");
    if (start > 0) lines.shift(); // a partial first line
    const events: LocalAuditEvent[] = [];
    for (const line of lines) {
      let rec: Record<string, unknown>;
      try {
        rec = JSON.parse(line);
      } catch {
        continue; // the torn last line of a killed process, or an empty one
      }
      if (rec.event === "auth.start") events.length = 0;
      const { audit_id: id, ...record } = rec;
      if (typeof id === "string" && /^[0-9TZ:.-]+-[0-9a-z]+-[0-9a-f]+$/.test(id)) events.push({ id, record });
    }
    return events.slice(-MAX_EVENTS);
  } finally {
    closeSync(fd);
  }
}
