// Rules for directory destinations (storage and every service's). They run in the validation
// `tbot configure` and `tbot start` share, so that configure refuses what start would refuse
// when it opens the directory, with the same message.

import type { ConfigPlaces } from "./places.ts";
import type { Destination } from "./types.ts";

/** `key` is the destination's key in the places table: "storage" or "services[i].destination". */
export function validateDestination(d: Destination, key: string, places: ConfigPlaces): void {
  if (d.type !== "directory") return;
  const label = places.label(key);
  // A relative path is fine (start resolves it against its working directory); an empty one
  // would silently mean the working directory itself.
  if (d.path.trim() === "")
    throw places.error(places.has(`${key}.path`) ? `${key}.path` : key, `${label}.path must not be empty`);
  // POSIX ACLs are not built yet. Options that promise them must fail loudly rather than
  // leave files less protected than configured (src/agent/storage/open.ts guards it too).
  if (d.readers.length > 0)
    throw places.error(
      places.has(`${key}.readers`) ? `${key}.readers` : key,
      `${label}.readers needs POSIX ACLs, which this build does not set yet; remove readers (or --reader-user/--reader-group) and grant access with the directory's owner or group instead`,
    );
  if (d.acls === "required")
    throw places.error(
      places.has(`${key}.acls`) ? `${key}.acls` : key,
      `${label}.acls: required needs POSIX ACLs, which this build does not set yet; use acls: try (the default) or off, and grant access with the directory's owner or group instead`,
    );
}
