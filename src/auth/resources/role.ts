// kind: role, versions v3–v8: what a bot may do once it impersonates the role.

import type { Cursor, Fields } from "../../resources/cursor.ts";
import { readMetadata, readVersion } from "../../resources/metadata.ts";
import type { RoleConditions, RoleResource } from "../../resources/types.ts";
import { roleNameProblem } from "./names.ts";
import { roleConditionKeys, roleOptionKeys, roleSpecKeys, roleVersions } from "./role-vocabulary.ts";

export function readRole(top: Fields): RoleResource {
  const version = readVersion(top, "role", roleVersions);
  const metadata = readMetadata(top, roleNameProblem);
  const role: RoleResource = { kind: "role", version, metadata, spec: { allow: {}, deny: {}, options: {} } };
  const specNode = top.get("spec");
  if (specNode.missing) return role;
  const spec = specNode.map().strict(roleSpecKeys);
  if (spec.has("allow")) role.spec.allow = readConditions(spec.get("allow"));
  if (spec.has("deny")) role.spec.deny = readConditions(spec.get("deny"));
  if (spec.has("options")) role.spec.options = readOptions(spec.get("options"));
  return role;
}

function readConditions(node: Cursor): RoleConditions {
  const fields = node.map().strict(roleConditionKeys);
  const out: RoleConditions = {};
  for (const key of fields.keys()) {
    if (!fields.has(key)) continue;
    const value = fields.get(key);
    if (key === "logins" || key === "db_users" || key === "db_names") out[key] = value.strList();
    else if (
      key === "node_labels" ||
      key === "db_labels" ||
      key === "app_labels" ||
      key === "workload_identity_labels"
    )
      out[key] = readLabelSelector(value);
    else out[key] = value.toJS();
  }
  return out;
}

/** node_labels: each key maps to one value or a list of values ("*" matches any). */
function readLabelSelector(node: Cursor): Record<string, string | string[]> {
  const fields = node.map();
  const out: Record<string, string | string[]> = {};
  for (const key of fields.keys()) {
    const value = fields.get(key);
    out[key] = value.isList() ? value.strList() : value.str();
  }
  return out;
}

function readOptions(node: Cursor): RoleResource["spec"]["options"] {
  const fields = node.map().strict(roleOptionKeys);
  const out: RoleResource["spec"]["options"] = {};
  for (const key of fields.keys()) {
    if (!fields.has(key)) continue;
    const value = fields.get(key);
    if (key === "max_session_ttl") {
      value.duration(); // validates; the operator's spelling is kept
      out.max_session_ttl = value.str();
    } else out[key] = value.toJS();
  }
  return out;
}
