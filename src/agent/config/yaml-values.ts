// Small readers on top of util/yaml-source for the ways tbot.yaml differs from plain YAML 1.2,
// because users bring files written for the reference's Go decoder (yaml.v3).

import { isScalar } from "yaml";
import type { YNode } from "../../util/yaml-source.ts";
import type { ConfigPlaces } from "./places.ts";

const yamlTrue = new Set(["true", "yes", "on"]);
const yamlFalse = new Set(["false", "no", "off"]);

/**
 * A boolean. yaml.v3 accepts the YAML 1.1 words (yes/no/on/off) when the target field is a
 * bool, and YAML 1.2 reads them as strings; accept both so that such files keep working.
 */
export function yamlBool(n: YNode): boolean {
  if (isScalar(n.node)) {
    const v = n.node.value;
    if (typeof v === "boolean") return v;
    if (typeof v === "string") {
      const w = v.toLowerCase();
      if (yamlTrue.has(w)) return true;
      if (yamlFalse.has(w)) return false;
    }
  }
  return n.fail(`${n.path} must be true or false, got ${describe(n)}`);
}

/**
 * A string exactly as written. A plain scalar such as `0123` or `12e45` is a number to YAML
 * 1.2, but a Go string field keeps its text; tokens and names must not be rewritten.
 */
export function text(n: YNode): string {
  if (isScalar(n.node) && typeof n.node.value !== "string" && typeof n.node.source === "string") {
    if (n.node.value !== null && typeof n.node.value !== "object") return n.node.source;
  }
  return n.str();
}

/** A non-empty string as written; an empty one is an error at its place. */
export function nonEmptyText(n: YNode): string {
  const s = text(n).trim();
  if (s === "") n.fail(`${n.path} must not be empty`);
  return s;
}

export function describe(n: YNode): string {
  if (!isScalar(n.node)) return n.isMap() ? "a mapping" : n.isList() ? "a list" : "nothing";
  const v = n.node.value;
  if (v === null) return "nothing";
  return typeof v === "string" ? `the string "${v}"` : `the ${typeof v} ${String(v)}`;
}

/** Remember where `n` is, under `key` in the places table (label = its YAML path). */
export function note(places: ConfigPlaces, key: string, n: YNode): void {
  places.set(key, n.where(), n.path);
}
