// `tbot wait` (reference §2.2): poll a running tbot's diagnostics listener until /readyz (or
// /readyz/<service>) says healthy. A listener that is not up yet, or a bot still initializing,
// is waited for; an unknown service name is an error at once, since services are registered
// before the listener starts. No timeout means: until ready or interrupted.

import { formatDuration } from "../util/duration.ts";
import { UserError } from "../util/errors.ts";
import { formatHostPort, requireHostPort } from "../util/host-port.ts";

export interface WaitOptions {
  diagAddr: string;
  service?: string;
  /** 0 or undefined: no limit. */
  timeoutMs?: number;
  /** Between two polls; default 500 ms. */
  intervalMs?: number;
}

/** Resolves with a line saying what became ready; throws a UserError on timeout. */
export async function waitReady(o: WaitOptions): Promise<string> {
  const hp = requireHostPort(o.diagAddr, "--diag-addr");
  const path = o.service === undefined ? "/readyz" : `/readyz/${encodeURIComponent(o.service)}`;
  const url = `http://${formatHostPort(hp)}${path}`;
  const what = o.service === undefined ? "tbot" : `service "${o.service}"`;
  const interval = o.intervalMs ?? 500;
  const deadline = o.timeoutMs ? Date.now() + o.timeoutMs : Number.POSITIVE_INFINITY;
  let last = "no answer yet";
  for (;;) {
    // One answer may take up to 5 s, and a last one may end up to a second past the deadline.
    const perRequest = Math.min(5_000, Math.max(1_000, deadline - Date.now()));
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(perRequest) });
      const body = (await res.json().catch(() => ({}))) as {
        status?: string;
        reason?: string;
        services?: Record<string, { status: string; reason?: string }>;
      };
      if (res.status === 200 && body.status === "healthy") return `${what} is ready (${url})`;
      if (res.status === 404)
        throw new UserError(
          o.service === undefined
            ? `${url} is not a tbot diagnostics endpoint (404); check --diag-addr`
            : `tbot at ${formatHostPort(hp)} has no service named "${o.service}"; see ${url.replace(/\/[^/]*$/, "")} for the names`,
        );
      last = `status ${body.status ?? res.status}${describeReasons(body)}`;
    } catch (e) {
      if (e instanceof UserError) throw e;
      const code = (e as { code?: string }).code;
      const name = (e as Error).name;
      last =
        code === "ECONNREFUSED" || code === "ConnectionRefused"
          ? `nothing listens at ${formatHostPort(hp)} (is tbot running with this diag_addr?)`
          : name === "TimeoutError"
            ? `no answer from ${url} within ${formatDuration(perRequest)}`
            : `cannot reach ${url}: ${(e as Error).message}`;
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0)
      throw new UserError(
        `${what} was not ready after ${formatDuration(o.timeoutMs ?? 0)}; last: ${last}`,
        "connection_problem",
      );
    await Bun.sleep(Math.min(interval, remaining));
  }
}

function describeReasons(body: {
  reason?: string;
  services?: Record<string, { status: string; reason?: string }>;
}): string {
  if (body.reason) return ` (${body.reason})`;
  const bad = Object.entries(body.services ?? {})
    .filter(([, s]) => s.status !== "healthy")
    .map(([n, s]) => `${n}: ${s.status}${s.reason ? `, ${s.reason}` : ""}`);
  return bad.length ? ` (${bad.join("; ")})` : "";
}
