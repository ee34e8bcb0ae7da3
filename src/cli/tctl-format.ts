// How tctl prints resources. YAML and JSON are for machines and for round trips (`tctl get`
// output re-applies with `tctl create -f`); text is a table for people, shaped like tctl's.

import { stringify } from "yaml";

export type OutputFormat = "yaml" | "json" | "text";

export function formatResources(kind: string, resources: object[], format: OutputFormat): string {
  const tidy = resources.map((r) => tidyResource(r as Record<string, unknown>));
  switch (format) {
    // Always an array, even for one resource: scripts index it (jq '.[0].status…').
    case "json":
      return `${JSON.stringify(tidy, null, 4)}\n`;
    case "yaml":
      // lineWidth 0: never fold long values (tokens, keys, PEM) across lines.
      return tidy.map((r) => stringify(r, { lineWidth: 0 })).join("---\n");
    case "text":
      return renderTable(tableFor(kind, tidy));
  }
}

// ---- tidy: reference key order, empty fields omitted ----

const topLevelOrder = ["kind", "version", "metadata", "spec", "status"];
const metadataOrder = ["name", "description", "labels", "expires", "revision"];

function tidyResource(resource: Record<string, unknown>): Record<string, unknown> {
  const ordered = reorder(resource, topLevelOrder);
  if (isPlainObject(ordered.metadata)) ordered.metadata = reorder(ordered.metadata, metadataOrder);
  return (tidyValue(ordered, "") as Record<string, unknown>) ?? {};
}

function reorder(object: Record<string, unknown>, order: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of order) if (key in object) out[key] = object[key];
  for (const key of Object.keys(object)) if (!(key in out)) out[key] = object[key];
  return out;
}

/**
 * Drops undefined, null, "", [] and {} so output shows what was set. Label maps (labels,
 * node_labels, …) are kept verbatim: there "" is a value, and an explicit node_labels: {}
 * means "match nothing", which differs from absent for v3 roles.
 */
function tidyValue(value: unknown, key: string): unknown {
  if (value === undefined || value === null || value === "") return undefined;
  if (isPlainObject(value) && (key === "labels" || key.endsWith("_labels"))) {
    // Plain metadata labels carry no "match nothing" meaning, so an empty set is omitted.
    return key === "labels" && Object.keys(value).length === 0 ? undefined : { ...value };
  }
  if (Array.isArray(value)) {
    const items = value.map((item) => (isPlainObject(item) ? (tidyValue(item, "") ?? {}) : item));
    return items.length > 0 ? items : undefined;
  }
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const tidied = tidyValue(v, k);
      if (tidied !== undefined) out[k] = tidied;
    }
    return Object.keys(out).length > 0 ? out : undefined;
  }
  return value;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

// ---- text tables ----

export interface Table {
  headers: string[];
  rows: string[][];
}

type Row = (r: Record<string, unknown>) => string[];

const tables: Record<string, { headers: string[]; row: Row }> = {
  bot: {
    headers: ["Bot", "User", "Roles"],
    row: (r) => [
      text(r, "metadata.name"),
      text(r, "status.user_name") || `bot-${text(r, "metadata.name")}`,
      list(r, "spec.roles"),
    ],
  },
  token: {
    // Names of join_method "token" tokens are secrets; the server masks them before we see them.
    headers: ["Token", "Type", "Join Method", "Bot", "Expiry Time (UTC)"],
    row: (r) => [
      text(r, "metadata.name"),
      list(r, "spec.roles"),
      text(r, "spec.join_method") || "token",
      text(r, "spec.bot_name"),
      text(r, "metadata.expires") || "never",
    ],
  },
  role: {
    headers: ["Role", "Allowed to login as", "Node Labels"],
    row: (r) => [
      text(r, "metadata.name"),
      list(r, "spec.allow.logins"),
      labelSelector(at(r, "spec.allow.node_labels")),
    ],
  },
  bot_instance: {
    headers: ["Bot", "Instance ID", "Join Method", "Generation", "Last Authenticated"],
    row: (r) => {
      const auth = latestAuthentication(r);
      return [
        text(r, "spec.bot_name"),
        text(r, "spec.instance_id") || text(r, "metadata.name"),
        text(auth, "join_method"),
        text(auth, "generation"),
        text(auth, "authenticated_at"),
      ];
    },
  },
  app: {
    headers: ["Name", "URI", "Public Address", "Labels"],
    row: (r) => [
      text(r, "metadata.name"),
      text(r, "spec.uri"),
      text(r, "spec.public_addr"),
      labelSelector(at(r, "metadata.labels")),
    ],
  },
  db: {
    headers: ["Name", "Protocol", "URI", "Labels"],
    row: (r) => [
      text(r, "metadata.name"),
      text(r, "spec.protocol"),
      text(r, "spec.uri"),
      labelSelector(at(r, "metadata.labels")),
    ],
  },
  workload_identity: {
    headers: ["Name", "SPIFFE ID", "Hint", "Labels"],
    row: (r) => [
      text(r, "metadata.name"),
      text(r, "spec.spiffe.id"),
      text(r, "spec.spiffe.hint"),
      labelSelector(at(r, "metadata.labels")),
    ],
  },
  node: {
    headers: ["Node", "Address", "Labels", "Last Heartbeat"],
    row: (r) => [
      text(r, "spec.hostname") || text(r, "metadata.name"),
      text(r, "spec.addr"),
      labelSelector(at(r, "metadata.labels")),
      text(r, "status.last_heartbeat") || text(r, "spec.last_heartbeat"),
    ],
  },
  admin_identity: {
    headers: ["ID", "Created By", "User@Host", "Created", "Expires", "Locked"],
    row: (r) => [
      text(r, "metadata.name"),
      text(r, "spec.created_by"),
      `${text(r, "spec.os_user")}@${text(r, "spec.host")}`,
      text(r, "spec.created_at"),
      text(r, "metadata.expires"),
      text(r, "status.locked_by") ? `yes (lock ${text(r, "status.locked_by")})` : "no",
    ],
  },
  lock: {
    headers: ["ID", "Target", "Message", "Created", "Expires"],
    row: (r) => [
      text(r, "metadata.name"),
      labelSelector(at(r, "spec.target")),
      text(r, "spec.message"),
      text(r, "spec.created_at"),
      text(r, "spec.expires") || text(r, "metadata.expires") || "never",
    ],
  },
};

/** Commands accept plurals ("tctl get bots"); tables are keyed by the singular kind. */
function singular(kind: string): string {
  const k = kind.toLowerCase();
  if (k === "database" || k === "databases" || k === "dbs") return "db";
  return k in tables ? k : k.replace(/ies$/, "y").replace(/s$/, "");
}

function tableFor(kind: string, resources: Record<string, unknown>[]): Table {
  const shape = tables[singular(kind)] ?? {
    headers: ["Kind", "Name"],
    row: (r) => [text(r, "kind"), text(r, "metadata.name")],
  };
  return { headers: shape.headers, rows: resources.map(shape.row) };
}

/** Columns padded to their widest cell, a row of dashes under the header, as tctl prints. */
export function renderTable({ headers, rows }: Table): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join(" ")
      .trimEnd();
  const dashes = widths.map((w) => "-".repeat(w));
  return [line(headers), line(dashes), ...rows.map(line)].map((l) => `${l}\n`).join("");
}

function at(object: unknown, path: string): unknown {
  let v: unknown = object;
  for (const part of path.split(".")) v = isPlainObject(v) ? v[part] : undefined;
  return v;
}

function text(object: unknown, path: string): string {
  const v = at(object, path);
  return typeof v === "string" || typeof v === "number" || typeof v === "boolean" ? String(v) : "";
}

function list(object: unknown, path: string): string {
  const v = at(object, path);
  return Array.isArray(v) ? v.join(",") : "";
}

/** "env=prod,team=[a b]" (lists printed as Go prints slices, as tctl does). */
function labelSelector(v: unknown): string {
  if (!isPlainObject(v)) return "";
  return Object.keys(v)
    .sort()
    .map((k) => {
      const value = v[k];
      return `${k}=${Array.isArray(value) ? `[${value.join(" ")}]` : String(value)}`;
    })
    .join(",");
}

function latestAuthentication(r: Record<string, unknown>): unknown {
  const latest = at(r, "status.latest_authentications");
  if (Array.isArray(latest) && latest.length > 0) return latest[latest.length - 1];
  return at(r, "status.initial_authentication");
}
