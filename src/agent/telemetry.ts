// TELEPORT_ANONYMOUS_TELEMETRY (reference §1, §2.3) is accepted for compatibility: Teleport's
// systemd units and CI wrappers set it. This implementation has no telemetry at all, so any
// value is fine and nothing is ever sent (TELEPORT_ANONYMOUS_TELEMETRY_ADDRESS is ignored too).
// When someone asked for telemetry, say once that there is none rather than stay silent.

const off = new Set(["", "0", "f", "false", "no", "off"]);

export function telemetryNotice(env: Record<string, string | undefined>): string | undefined {
  const v = env.TELEPORT_ANONYMOUS_TELEMETRY;
  if (v === undefined || off.has(v.trim().toLowerCase())) return undefined;
  return "TELEPORT_ANONYMOUS_TELEMETRY is set: this tbot has no telemetry, nothing is sent";
}
