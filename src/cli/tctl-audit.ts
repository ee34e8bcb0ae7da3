// `tctl audit ls`: the audit log every replica shares, oldest first, filtered by time, kind
// and bot. Pages are printed as they arrive and then dropped, so months of events never sit
// in tctl's memory; for that the text columns have fixed widths instead of fitting the
// widest cell.

import { eventBot } from "../auth/audit-query.ts";
import { rfc3339Problem } from "../resources/value-formats.ts";
import { parseDuration } from "../util/duration.ts";
import { UserError } from "../util/errors.ts";
import type { TctlOptions } from "./tctl.ts";
import { format, list, type TctlCommand } from "./tctl-commands.ts";
import { pageSize, pages } from "./tctl-paging.ts";

export interface AuditEntry {
  event_id: string;
  time: string;
  event: string;
  [field: string]: unknown;
}

/** --since/--until: a duration back from now ("2h") or an RFC 3339 time. */
export function auditTime(flag: string, text: string, now = Date.now()): string {
  if (!rfc3339Problem(text)) return new Date(text).toISOString();
  const ms = parseDuration(text);
  if (typeof ms === "string")
    throw new UserError(`--${flag} must be a duration such as 2h or an RFC 3339 time, got "${text}"`);
  return new Date(now - ms).toISOString();
}

function positiveInt(flag: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new UserError(`--${flag} must be a positive integer, got "${v}"`);
  return n;
}

/** The request body for the filters: checked before anything is sent. */
export function auditRequest(opts: TctlOptions, now = Date.now()): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (typeof opts.since === "string") body.since = auditTime("since", opts.since, now);
  if (typeof opts.until === "string") body.until = auditTime("until", opts.until, now);
  if (body.since && body.until && (body.since as string) > (body.until as string))
    throw new UserError(`--since (${body.since}) is after --until (${body.until})`);
  const kinds = list(opts.kind);
  if (kinds.length) body.kinds = kinds;
  if (typeof opts.bot === "string") body.bot = opts.bot;
  return body;
}

/** Fields shown in their own columns, not among the details. */
const COLUMNS = new Set(["event_id", "time", "event", "bot", "by", "created_by"]);

/** The Bot/Actor cell: whom the event is about, and which admin (or tauth) did it. */
export function auditWho(e: AuditEntry): string {
  const bot = eventBot(e) ?? "";
  const by = typeof e.by === "string" ? e.by : typeof e.created_by === "string" ? e.created_by : "";
  return bot && by ? `${bot} (by ${by})` : bot || by;
}

export function auditDetails(e: AuditEntry): string {
  return Object.entries(e)
    .filter(([k, v]) => !COLUMNS.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" ");
}

const WIDTHS = [24, 28, 28];

export function auditTextLine(e: AuditEntry): string {
  const cells = [e.time, e.event, auditWho(e)];
  return `${cells.map((c, i) => c.padEnd(WIDTHS[i]!)).join(" ")} ${auditDetails(e)}`.trimEnd();
}

export const auditHeader = () =>
  `${["Time", "Kind", "Bot/Actor"].map((h, i) => h.padEnd(WIDTHS[i]!)).join(" ")} Details\n${WIDTHS.map((w) => "-".repeat(w)).join(" ")} -------\n`;

export const tctlAuditCommands: TctlCommand[] = [
  {
    name: "audit ls",
    async prepare(args, opts) {
      if (args.length)
        throw new UserError(`unexpected argument "${args[0]}"; filters are flags (--kind, --bot)`);
      format(opts, ["text", "json"], "text");
      positiveInt("limit", opts.limit);
      return auditRequest(opts);
    },
    async run(a) {
      const f = format(a.opts, ["text", "json"], "text");
      const max = positiveInt("limit", a.opts.limit) ?? Number.POSITIVE_INFINITY;
      const size = Math.min(pageSize(), max);
      let n = 0;
      a.out(f === "json" ? "[" : auditHeader());
      for await (const page of pages<AuditEntry>(
        a.api,
        "audit",
        a.prepared as object as Record<string, unknown>,
        "events",
        size,
      )) {
        for (const e of page.slice(0, max - n)) {
          a.out(f === "json" ? `${n ? "," : ""}\n${JSON.stringify(e)}` : `${auditTextLine(e)}\n`);
          n++;
        }
        if (n >= max) break;
      }
      if (f === "json") a.out(n ? "\n]\n" : "]\n");
    },
  },
];
