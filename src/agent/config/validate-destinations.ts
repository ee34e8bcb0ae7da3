// Rules for directory destinations (storage and every service's). They run in the validation
// `tbot configure` and `tbot start` share, so that configure refuses what start would refuse
// when it opens the directory, with the same message.
//
// Reader names are not looked up here: `tbot configure` may write a configuration for another
// host. `tbot start` resolves them when it opens the destination (storage/acl.ts) and stops with
// one line naming an unknown user or group.

import type { ConfigPlaces } from "./places.ts";
import type { Destination } from "./types.ts";

/** Largest uid/gid: (uid_t)-1 is "no ID" to the kernel. */
const MAX_ID = 0xfffffffe;
/** What a user or group name may look like (useradd's rule, relaxed: "." and "@" as sssd gives). */
const NAME = /^[A-Za-z0-9_.@][A-Za-z0-9_.@-]*\$?$/;

/** `key` is the destination's key in the places table: "storage" or "services[i].destination". */
export function validateDestination(d: Destination, key: string, places: ConfigPlaces): void {
  if (d.type !== "directory") return;
  const label = places.label(key);
  // A relative path is fine (start resolves it against its working directory); an empty one
  // would silently mean the working directory itself.
  if (d.path.trim() === "")
    throw places.error(places.has(`${key}.path`) ? `${key}.path` : key, `${label}.path must not be empty`);
  if (d.readers.length === 0) return;
  const at = places.has(`${key}.readers`) ? `${key}.readers` : key;
  // Storage holds the bot's own key; the decoder refuses readers there, this guards other paths.
  if (key === "storage")
    throw places.error(
      at,
      `${label}.readers is not allowed: readers apply to service destinations, not to storage`,
    );
  d.readers.forEach((r, i) => {
    const kinds = Object.keys(r).filter((k) => k === "user" || k === "group");
    if (kinds.length !== 1)
      throw places.error(at, `${label}.readers[${i}] must set exactly one of user or group`);
    const kind = kinds[0] as "user" | "group";
    const v = String((r as Record<string, unknown>)[kind] ?? "").trim();
    if (v === "") throw places.error(at, `${label}.readers[${i}].${kind} must not be empty`);
    if (/^[0-9]+$/.test(v)) {
      if (Number(v) > MAX_ID)
        throw places.error(
          at,
          `${label}.readers[${i}].${kind} ${v} is out of range (IDs go up to ${MAX_ID})`,
        );
    } else if (!NAME.test(v))
      throw places.error(
        at,
        `${label}.readers[${i}].${kind} "${v}" is not a ${kind} name or a numeric ${kind === "user" ? "uid" : "gid"}`,
      );
  });
}
