// One run of one output: write its files, then its exec hook if it has one. Shared by the
// one-shot path and the daemon's per-output loops (bot.ts), so both log and count alike.

import { logger } from "../../util/log.ts";
import { certificateExpiry } from "../cert-expiry.ts";
import type { ServiceConfig } from "../config/types.ts";
import type { Health } from "../health.ts";
import { defaultExecTimeoutMs, describeExec, execEnvironment, forLog, runExec } from "./exec.ts";
import type { OutputService, ServiceContext } from "./service.ts";

const log = logger("TBOT");

/** A service with its config and the schedule it runs on (its own, or the bot's). */
export interface ScheduledOutput {
  service: OutputService;
  config: ServiceConfig;
  /** The output's renewal_interval, else the bot's. */
  intervalMs: number;
  /** The output's credential_ttl, else the bot's. */
  ttlMs: number;
  /** No renewal_interval of its own: it runs after each renewal of the bot's identity. */
  followsBot: boolean;
}

export function scheduleOutputs(
  services: OutputService[],
  configs: ServiceConfig[],
  bot: { credentialTtlMs: number; renewalIntervalMs: number },
): ScheduledOutput[] {
  return services.map((service, i) => {
    const config = configs[i]!;
    return {
      service,
      config,
      intervalMs: config.renewalIntervalMs ?? bot.renewalIntervalMs,
      ttlMs: config.credentialTtlMs ?? bot.credentialTtlMs,
      followsBot: config.renewalIntervalMs === undefined,
    };
  });
}

/**
 * Writes the output (throws if that fails: nothing was written) and then runs its exec.
 * Returns the exec's failure as a message, or undefined; the written files stay either way.
 */
export async function produceOutput(
  o: ScheduledOutput,
  ctx: ServiceContext,
  health: Health,
  /** Called when the files are written: when the output runs next (for the log), if it does. */
  nextRun: (() => Date) | undefined,
): Promise<string | undefined> {
  const s = o.service;
  // The certificates it is issued: their expiry goes into heartbeats (and /metrics).
  const issued = watchIssued(ctx);
  await s.run({ ...ctx, ...issued.ctx, credentialTtlMs: o.ttlMs, renewalIntervalMs: o.intervalMs });
  if (issued.certs.tls || issued.certs.ssh) {
    const at = certificateExpiry(issued.certs);
    if (at !== undefined) health.outputExpiresAt.set(s.name, at);
    health.observer?.issued?.(s.name, issued.certs);
  }
  const next = nextRun?.();
  log.info("Generated output", {
    service: s.name,
    type: s.type,
    ...(next ? { next: next.toISOString() } : {}),
  });
  const argv = o.config.exec;
  if (!argv) return undefined;
  const timeoutMs = o.config.execTimeoutMs ?? defaultExecTimeoutMs;
  const d = o.config.destination;
  const r = await runExec(argv, {
    timeoutMs,
    env: execEnvironment({ name: s.name, type: s.type, dir: d.type === "directory" ? d.path : undefined }),
  });
  health.countExec(s.name, r.outcome);
  const fields = {
    service: s.name,
    status: r.code ?? undefined,
    signal: r.signal ?? undefined,
    duration_ms: r.durationMs,
    stdout: forLog(r.stdout),
    stderr: forLog(r.stderr),
  };
  if (r.outcome === "ok") {
    log.info("Output exec succeeded", fields);
    return undefined;
  }
  const why = describeExec(argv, r, timeoutMs);
  log.warn("Output exec failed; its output's files stay written, the exec runs again at the next renewal", {
    ...fields,
    error: why,
  });
  return `exec failed: ${why}`;
}

/**
 * For the metrics (tbot_output_certificate_expiry_timestamp_seconds): an API client that
 * notes the certificates the auth server issues during one run (`tls_cert`, else `ssh_cert`).
 */
function watchIssued(ctx: ServiceContext): {
  ctx: { api: ServiceContext["api"] };
  certs: { tls?: string; ssh?: string };
} {
  const certs: { tls?: string; ssh?: string } = {};
  const api = Object.create(ctx.api) as ServiceContext["api"];
  api.post = async <T>(path: string, body: unknown): Promise<T> => {
    const r = await ctx.api.post<T>(path, body);
    const c = r as { tls_cert?: unknown; ssh_cert?: unknown } | null;
    if (typeof c?.tls_cert === "string") certs.tls = c.tls_cert;
    else if (typeof c?.ssh_cert === "string") certs.ssh = c.ssh_cert;
    return r;
  };
  return { ctx: { api }, certs };
}
