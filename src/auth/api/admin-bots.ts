// Admin route for `tctl bots update`. Its body schema lives here, next to the one route that
// reads it (the others are in src/protocol/admin-messages.ts); the rules are in
// src/auth/bot-update.ts.

import { arr, obj, optional, type Schema, str } from "../../protocol/validate.ts";
import { type BotUpdateRequest, updateBot } from "../bot-update.ts";
import type { AuthService } from "../service.ts";

const names = optional(arr(str({ max: 255 }), { max: 256 }));

export const botsUpdateSchema: Schema<BotUpdateRequest> = obj<BotUpdateRequest>(
  {
    name: str({ min: 1, max: 512 }),
    add_roles: names,
    set_roles: names,
    add_logins: names,
    set_logins: names,
    max_session_ttl: optional(str({ max: 64 })),
  },
  // tctl ships with tauth: a field tauth does not know is a mistake, refused with its name.
  { unknown: "reject" },
);

export async function botsUpdate(svc: AuthService, body: BotUpdateRequest, who: string) {
  const r = await updateBot(svc, body, who);
  return { bot: r.bot, before: r.before, after: r.after, changed: r.changed };
}
