// The HTTPS server's bounds, in one place: body sizes, deadlines, connections per address and
// the unauthenticated join rate. Defaults suit a production auth service; a deployment (or a
// bench driving 1,000 joins from one address) overrides them with TAUTH_LIMITS, e.g.
//   TAUTH_LIMITS="join_rate=1000,join_burst=2000,conns_per_ip=4096"
//   TAUTH_LIMITS="join_rate=off"              # no join rate limit at all
// or by passing `limits` to startHttpServer.

import { parseDuration } from "../../util/duration.ts";
import { UserError } from "../../util/errors.ts";

export interface ServerLimits {
  /** Body cap for routes that do not set their own `maxBody`. */
  defaultMaxBody: number;
  /** A connection must deliver its first request's headers this long after it opened (TLS included). */
  headerTimeoutMs: number;
  /** A request's body must arrive completely this long after its headers. */
  bodyTimeoutMs: number;
  /** No bytes either way for this long closes the connection; also the wait for the next request. */
  idleTimeoutMs: number;
  /** Concurrent TCP connections from one IP address; more are closed at once. 0: no cap. */
  connsPerIp: number;
  /** Unauthenticated joins per second per IP (token bucket refill). 0: no limit. */
  joinRate: number;
  /** Bucket size: that many joins from one address may come at once. */
  joinBurst: number;
  /** Refused joins are audited as one `join.rate_limited` line per address per window. */
  rateAuditWindowMs: number;
}

export const DEFAULT_LIMITS: ServerLimits = {
  defaultMaxBody: 64 << 10,
  headerTimeoutMs: 10_000,
  bodyTimeoutMs: 30_000,
  idleTimeoutMs: 15_000,
  connsPerIp: 64,
  joinRate: 10,
  joinBurst: 20,
  rateAuditWindowMs: 60_000,
};

const keys: Record<string, [keyof ServerLimits, "count" | "duration" | "rate"]> = {
  default_max_body: ["defaultMaxBody", "count"],
  header_timeout: ["headerTimeoutMs", "duration"],
  body_timeout: ["bodyTimeoutMs", "duration"],
  idle_timeout: ["idleTimeoutMs", "duration"],
  conns_per_ip: ["connsPerIp", "count"],
  join_rate: ["joinRate", "rate"],
  join_burst: ["joinBurst", "count"],
  rate_audit_window: ["rateAuditWindowMs", "duration"],
};

/** Parses TAUTH_LIMITS ("key=value,key=value"); unknown keys and bad values are errors. */
export function parseLimits(text: string | undefined, base: ServerLimits = DEFAULT_LIMITS): ServerLimits {
  const out = { ...base };
  if (!text?.trim()) return out;
  for (const part of text.split(",")) {
    const [k, v] = part.split("=", 2).map((x) => x.trim());
    const spec = keys[k ?? ""];
    if (!spec || v === undefined || v === "")
      throw new UserError(
        `TAUTH_LIMITS: "${part}" is not one of ${Object.keys(keys)
          .map((x) => `${x}=…`)
          .join(", ")}`,
      );
    const [field, kind] = spec;
    let n: number;
    if (v === "off") n = 0;
    else if (kind === "duration") {
      const d = parseDuration(v);
      n = typeof d === "number" ? d : Number.NaN;
    } else n = Number(v);
    if (!Number.isFinite(n) || n < 0 || (kind === "count" && !Number.isInteger(n)))
      throw new UserError(
        `TAUTH_LIMITS: ${k}=${v} is not a valid ${kind === "duration" ? "duration (10s)" : "number"}`,
      );
    out[field] = n;
  }
  return out;
}

export function limitsFromEnv(env: Record<string, string | undefined> = process.env): ServerLimits {
  return parseLimits(env.TAUTH_LIMITS);
}
