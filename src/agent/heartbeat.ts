// What a bot instance reports in its heartbeats (reference §7.8): who it is (version, host,
// OS, join method, mode), each output's health and certificate expiry, its renewal interval
// (the server shows an instance stale after twice that without a heartbeat) and its effective
// configuration with the secrets removed. Sent at startup, after each renewal's pass over the
// outputs (bot.ts); best effort.

import { arch, hostname, platform } from "node:os";
import {
  type BotHeartbeat,
  HEARTBEAT_MAX_CONFIG,
  HEARTBEAT_MAX_OUTPUTS,
  HEARTBEAT_MAX_REASON,
  type HeartbeatOutput,
} from "../protocol/messages.ts";
import { VERSION } from "../version.ts";
import { joinSettings } from "./config/join-settings.ts";
import { redactedConfigYaml } from "./config/redact.ts";
import type { BotConfig } from "./config/types.ts";
import type { Health } from "./health.ts";

/** Each output's health and expiry, in config order, within the message's bounds. */
export function heartbeatOutputs(
  health: Health,
  outputs: { name: string; type: string }[],
): HeartbeatOutput[] {
  return outputs.slice(0, HEARTBEAT_MAX_OUTPUTS).map(({ name, type }) => {
    const h = health.get(name);
    const expires = health.outputExpiresAt.get(name);
    const out: HeartbeatOutput = {
      name: name.slice(0, 128),
      type: type.slice(0, 64),
      healthy: h?.status === "healthy",
    };
    const reason = h?.status === "initializing" ? "initializing" : h?.reason;
    if (!out.healthy && reason) out.reason = reason.slice(0, HEARTBEAT_MAX_REASON);
    if (expires !== undefined) out.expires = new Date(expires).toISOString();
    return out;
  });
}

function joinMethod(cfg: BotConfig): string | undefined {
  try {
    return joinSettings(cfg).joinMethod || undefined;
  } catch {
    return cfg.onboarding.joinMethod || undefined;
  }
}

/** The parts that do not change while the bot runs, computed once. */
export function heartbeatStatics(cfg: BotConfig) {
  let config: string | undefined;
  try {
    config = redactedConfigYaml(cfg, HEARTBEAT_MAX_CONFIG);
  } catch {
    config = undefined;
  }
  return {
    hostname: hostname().slice(0, 255),
    version: VERSION,
    one_shot: cfg.oneshot,
    architecture: arch(),
    os: platform(),
    join_method: joinMethod(cfg)?.slice(0, 64),
    renewal_interval_seconds: Math.round(cfg.renewalIntervalMs / 1000),
    config,
  };
}

export function buildHeartbeat(
  statics: ReturnType<typeof heartbeatStatics>,
  health: Health,
  outputs: { name: string; type: string }[],
  isStartup: boolean,
  uptimeMs: number,
): BotHeartbeat {
  const hb: BotHeartbeat = {
    is_startup: isStartup,
    ...statics,
    uptime_seconds: Math.max(0, Math.round(uptimeMs / 1000)),
    outputs: heartbeatOutputs(health, outputs),
  };
  for (const k of Object.keys(hb) as (keyof BotHeartbeat)[]) if (hb[k] === undefined) delete hb[k];
  return hb;
}
