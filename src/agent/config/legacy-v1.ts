// v1 configs (no `version`, as in guides written before tbot v14) listed their outputs under
// `destinations`, each an identity output with the destination inline:
//   destinations:
//     - directory: /opt/machine-id
//       configs: [ssh_client]
// They are migrated in memory into identity services.

import type { YNode } from "../../util/yaml-source.ts";
import { defaultIdentityService, type IdentityService } from "../services/identity/config.ts";
import { decodeDestination } from "./destination.ts";
import type { ConfigPlaces } from "./places.ts";
import { rejectRoles } from "./services.ts";
import { nonEmptyText, note } from "./yaml-values.ts";

export const v1MigrationWarning =
  "Deprecated config version (V1) detected. Attempting to perform an on-the-fly in-memory migration to V2; " +
  "add `version: v2` and move `destinations` to `services` to silence this warning.";

const unsupportedV1Outputs: Record<string, string> = {
  app: "application",
  database: "database",
  kubernetes_cluster: "kubernetes",
};

export function decodeV1Destination(n: YNode, key: string, places: ConfigPlaces): IdentityService {
  const m = n.map();
  if (m.keys().includes("roles")) rejectRoles(m.get("roles"));
  for (const [k, kind] of Object.entries(unsupportedV1Outputs)) {
    if (m.keys().includes(k))
      m.get(k).fail(
        `${m.get(k).path}: ${kind} outputs are not supported by this build; only identity outputs are`,
      );
  }
  note(places, key, n);
  const destination = decodeDestination(n, {
    places,
    key: `${key}.destination`,
    isStorage: false,
    siblingKeys: ["roles", "configs"],
  });
  // v1 `configs` chose which templates to render; an empty list meant all of them.
  const configs = m.has("configs") ? m.get("configs").list().map(nonEmptyText) : [];
  return {
    ...defaultIdentityService(destination),
    sshConfig: configs.length === 0 || configs.includes("ssh_client"),
  };
}
