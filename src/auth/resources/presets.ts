// Roles a fresh cluster starts with, after the reference system's presets. Only the fields
// this system acts on matter (logins, node_labels, max_session_ttl); the rest mirror
// Teleport's presets so `tctl get roles` looks familiar.

import type { RoleResource } from "../../resources/types.ts";

const presetLabels = { "teleport.internal/resource-type": "preset" };
/** Teleport's default maximum certificate duration. */
const maxSessionTtl = "30h0m0s";

const access: RoleResource = {
  kind: "role",
  version: "v7",
  metadata: { name: "access", description: "Access cluster resources", labels: presetLabels },
  spec: {
    allow: {
      logins: ["{{internal.logins}}"],
      node_labels: { "*": "*" },
      app_labels: { "*": "*" },
      db_labels: { "*": "*" },
      db_names: ["{{internal.db_names}}"],
      db_users: ["{{internal.db_users}}"],
      kubernetes_labels: { "*": "*" },
      kubernetes_groups: ["{{internal.kubernetes_groups}}"],
      kubernetes_users: ["{{internal.kubernetes_users}}"],
      windows_desktop_labels: { "*": "*" },
      windows_desktop_logins: ["{{internal.windows_logins}}"],
      rules: [{ resources: ["event"], verbs: ["list", "read"] }],
    },
    deny: {},
    options: {
      max_session_ttl: maxSessionTtl,
      forward_agent: true,
      port_forwarding: true,
      cert_format: "standard",
    },
  },
};

const editor: RoleResource = {
  kind: "role",
  version: "v7",
  metadata: { name: "editor", description: "Edit cluster configuration", labels: presetLabels },
  spec: {
    allow: {
      rules: [
        {
          resources: [
            "user",
            "role",
            "bot",
            "bot_instance",
            "token",
            "lock",
            "node",
            "cert_authority",
            "event",
          ],
          verbs: ["list", "create", "read", "update", "delete"],
        },
      ],
    },
    deny: {},
    options: { max_session_ttl: maxSessionTtl },
  },
};

const auditor: RoleResource = {
  kind: "role",
  version: "v7",
  metadata: {
    name: "auditor",
    description: "Review cluster events and replay sessions",
    labels: presetLabels,
  },
  spec: {
    allow: { rules: [{ resources: ["session", "event"], verbs: ["list", "read"] }] },
    deny: {},
    options: { max_session_ttl: maxSessionTtl },
  },
};

/** Frozen: callers that want to change a preset must copy it first. */
export const presetRoles: RoleResource[] = [access, editor, auditor].map(deepFreeze);

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
