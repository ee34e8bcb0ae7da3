// Bot instance heartbeats: best-effort status reports, accepted only from the bot's internal
// identity (an output certificate handed to another program must not speak for the instance).
// The instance keeps the last MAX_HEARTBEATS; only the newest keeps its configuration (up to
// 16 KiB), so an instance stays small however often its bot reports. The first one is also kept
// for good as `initial_heartbeat` (the reference's field), without its configuration.

import type { TlsIdentity } from "../crypto/tls-identity.ts";
import type { BotHeartbeat } from "../protocol/messages.ts";
import { isCode } from "../util/errors.ts";
import { requireBot } from "./bot-identity.ts";
import { instanceKey, notePresented } from "./instances.ts";
import { assertInternalIdentity } from "./output-certs.ts";
import type { AuthService } from "./service.ts";
import { type Heartbeat, MAX_HEARTBEATS } from "./store/types.ts";

/** The history with `hb` appended: the last MAX_HEARTBEATS, the configuration on the newest only. */
export function appendHeartbeat(history: Heartbeat[], hb: Heartbeat): Heartbeat[] {
  const older = history.slice(-(MAX_HEARTBEATS - 1)).map((h) => {
    if (h.config === undefined) return h;
    const { config: _, ...rest } = h;
    return rest;
  });
  return [...older, hb];
}

export async function recordBotHeartbeat(
  svc: AuthService,
  caller: TlsIdentity,
  hb: BotHeartbeat,
): Promise<{ ok: boolean }> {
  await requireBot(svc, caller);
  assertInternalIdentity(caller);
  await notePresented(svc, caller);
  const key = instanceKey(caller.botName!, caller.botInstanceId!);
  // Best effort: retry a few times on concurrent updates, never fail the bot for it.
  for (let i = 0; i < 5; i++) {
    const cur = await svc.instances.get(key);
    if (!cur) return { ok: false };
    const next = structuredClone(cur.value);
    const recorded: Heartbeat = { ...hb, recorded_at: new Date().toISOString() };
    next.status.latest_heartbeats = appendHeartbeat(next.status.latest_heartbeats, recorded);
    if (!next.status.initial_heartbeat) {
      const { config: _, ...first } = recorded;
      next.status.initial_heartbeat = first;
    }
    try {
      await svc.instances.compareAndSwap(key, cur.revision, next, cur.expires);
      return { ok: true };
    } catch (e) {
      if (!isCode(e, "compare_failed")) throw e;
    }
  }
  return { ok: false };
}
