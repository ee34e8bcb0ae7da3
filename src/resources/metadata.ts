// The parts every resource shares: the kind/version header and `metadata`.

import type { Cursor, Fields } from "./cursor.ts";
import type { Metadata } from "./types.ts";
import { rfc3339Problem } from "./value-formats.ts";

export const topLevelKeys = ["kind", "version", "metadata", "spec", "status"] as const;

/** Returns the version after checking it is one the kind supports. */
export function readVersion(top: Fields, kind: string, supported: readonly string[]): string {
  const version = top.optStr("version") ?? "";
  if (!supported.includes(version)) {
    const at = top.has("version") ? top.get("version") : top.get("kind");
    at.fail(`unsupported version "${version}" for kind ${kind} (supported: ${supported.join(", ")})`);
  }
  return version;
}

export function readMetadata(top: Fields, nameProblem: (name: string) => string | undefined): Metadata {
  const node = top.get("metadata");
  if (node.missing) top.get("kind").fail("metadata.name is required");
  // `namespace: default` appears in resources exported by older Teleport versions; it has
  // no meaning here, so it is accepted and dropped.
  const fields = node.map().strict(["name", "description", "labels", "expires", "revision", "namespace"]);
  const name = fields.optStr("name") ?? "";
  if (name === "") (fields.has("name") ? fields.get("name") : node).fail("metadata.name is required");
  const problem = nameProblem(name);
  if (problem) fields.get("name").fail(problem);

  const metadata: Metadata = { name };
  const description = fields.optStr("description");
  if (description) metadata.description = description;
  if (fields.has("labels")) metadata.labels = readStringMap(fields.get("labels"));
  const expires = readTime(fields, "expires");
  if (expires) metadata.expires = expires;
  const revision = fields.optStr("revision");
  if (revision) metadata.revision = revision;
  const namespace = fields.optStr("namespace");
  if (namespace !== undefined && namespace !== "default")
    fields.get("namespace").fail(`metadata.namespace must be "default" (or left out), got "${namespace}"`);
  return metadata;
}

export function readStringMap(node: Cursor): Record<string, string> {
  const fields = node.map();
  const out: Record<string, string> = {};
  for (const key of fields.keys()) out[key] = fields.get(key).str();
  return out;
}

/** An optional RFC 3339 field; empty strings count as unset (Teleport exports them that way). */
export function readTime(fields: Fields, key: string): string | undefined {
  const text = fields.optStr(key);
  if (!text) return undefined;
  const problem = rfc3339Problem(text);
  if (problem) fields.get(key).fail(`${fields.get(key).path} ${problem}`);
  return text;
}

/**
 * Only the server writes status. A status in an input file (e.g. re-applying `tctl get`
 * output) is accepted as a mapping and otherwise left for the server to ignore.
 */
export function readPassThroughStatus(top: Fields): Record<string, unknown> | undefined {
  const node = top.get("status");
  if (node.missing) return undefined;
  node.map();
  return node.toJS() as Record<string, unknown>;
}
