// With `storage: {type: memory}` nothing survives a restart, so every `tbot start` joins
// afresh and refuses a config that cannot join: no token, or an auth server it has no way to
// verify. That makes these two settings required by the config alone, so `tbot configure`
// refuses their absence too, with the message start gives. With directory storage a stored
// identity makes them unnecessary, which only start can know (it reads the storage), so they
// are left to it there.

import { joinSettings } from "./join-settings.ts";
import type { ConfigPlaces } from "./places.ts";
import type { BotConfig } from "./types.ts";

/** For a config whose addresses already passed validation. */
export function validateMemoryStorageJoin(c: BotConfig, places: ConfigPlaces): void {
  if (c.storage.type !== "memory") return;
  const at = (key: string) => (places.has(key) ? key : undefined);
  const s = joinSettings(c);
  if (s.token === undefined)
    throw places.error(
      at("storage"),
      "storage is in memory, so tbot joins on every start, and no join token is configured: " +
        "set onboarding.token (--token), or keep the identity in directory storage",
    );
  const o = c.onboarding;
  if (s.addressKind === "auth" && !c.insecure && o.caPins.length === 0 && o.caPath === undefined)
    throw places.error(
      at(c.joinUri !== undefined ? "join_uri" : "auth_server"),
      "cannot verify the auth server on first contact (storage is in memory, so every start joins): " +
        'set onboarding.ca_pins (--ca-pin, from "tctl status") or onboarding.ca_path, use proxy_server ' +
        "with a publicly trusted certificate, or --insecure for development only",
    );
}
