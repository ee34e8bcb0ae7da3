// TELEPORT_ANONYMOUS_TELEMETRY (reference §1, §2.3) is accepted for compatibility: Teleport's
// systemd units and CI wrappers set it. This implementation has no telemetry at all, so
// nothing is ever sent (TELEPORT_ANONYMOUS_TELEMETRY_ADDRESS is ignored too). When someone
// asked for telemetry, say once that there is none rather than stay silent. The value is read
// as every boolean variable is (util/env-bool.ts): anything else is a warning and false.

import { envBool } from "../util/env-bool.ts";

export function telemetryNotice(env: Record<string, string | undefined>): {
  info?: string;
  warning?: string;
} {
  const t = envBool(env, "TELEPORT_ANONYMOUS_TELEMETRY");
  if (t.warning) return { warning: t.warning };
  if (!t.value) return {};
  return { info: "TELEPORT_ANONYMOUS_TELEMETRY is set: this tbot has no telemetry, nothing is sent" };
}
