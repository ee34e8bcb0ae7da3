// The `selector` of the workload-identity-* services (reference §1.6): one workload_identity by
// name, or every one whose labels match (`labels: {env: prod}`, a value may be a list). Shared by
// workload-identity-x509, -jwt and -api.

import type { WorkloadSelector } from "../../../protocol/messages.ts";
import { UserError } from "../../../util/errors.ts";
import type { MapReader } from "../../../util/yaml-source.ts";
import type { ConfigPlaces } from "../../config/places.ts";
import { describe, nonEmptyText, note, text } from "../../config/yaml-values.ts";

export type { WorkloadSelector };

/** `selector:` of an entry (absent → {}; validate refuses it). */
export function decodeSelector(m: MapReader, key: string, places: ConfigPlaces): WorkloadSelector {
  if (!m.has("selector")) return {};
  const n = m.get("selector");
  note(places, `${key}.selector`, n);
  const sm = n.map().strict(["name", "labels"]);
  const sel: WorkloadSelector = {};
  if (sm.has("name")) sel.name = nonEmptyText(sm.get("name"));
  if (sm.has("labels")) {
    const ln = sm.get("labels");
    const lm = ln.map();
    const labels: Record<string, string | string[]> = {};
    for (const k of lm.keys()) {
      const v = lm.get(k);
      if (v.isList()) labels[k] = v.list().map((x) => text(x));
      else if (v.isScalar()) labels[k] = text(v);
      else v.fail(`${v.path} must be a string or a list of strings, got ${describe(v)}`);
    }
    sel.labels = labels;
  }
  return sel;
}

/** Exactly one of name or labels (reference: "selector with both/neither name & labels: error"). */
export function validateSelector(
  sel: WorkloadSelector,
  key: string,
  label: string,
  places: ConfigPlaces,
): void {
  const hasName = sel.name !== undefined;
  const hasLabels = sel.labels !== undefined && Object.keys(sel.labels).length > 0;
  const at = places.has(`${key}.selector`) ? `${key}.selector` : key;
  if (!hasName && !hasLabels)
    throw places.error(
      at,
      `${label} needs selector: {name: <workload_identity>} or {labels: {key: value}} (exactly one)`,
    );
  if (hasName && hasLabels)
    throw places.error(at, `${label}.selector must have exactly one of name or labels, not both`);
}

export function renderSelector(sel: WorkloadSelector): Record<string, unknown> {
  if (sel.name !== undefined) return { name: sel.name };
  return { labels: { ...sel.labels } };
}

/** `--name-selector N` / `--label-selector k=v,k2=v2` of `tbot start workload-identity-*`. */
export function selectorFromFlags(
  flags: Readonly<Record<string, string | boolean | string[]>>,
): WorkloadSelector {
  const sel: WorkloadSelector = {};
  const name = flags["name-selector"];
  if (typeof name === "string" && name !== "") sel.name = name;
  const ls = flags["label-selector"];
  if (typeof ls === "string" && ls !== "") {
    const labels: Record<string, string> = {};
    for (const part of ls.split(",")) {
      const i = part.indexOf("=");
      if (i <= 0) throw new UserError(`--label-selector "${ls}": expected key=value[,key=value…]`);
      labels[part.slice(0, i).trim()] = part.slice(i + 1).trim();
    }
    sel.labels = labels;
  }
  return sel;
}

export const selectorModeFlags = ["name-selector", "label-selector"] as const;
export const selectorModeHelp = `      --name-selector NAME       The workload_identity to issue (or --label-selector)
      --label-selector K=V,…     Every workload_identity with these labels (the first one for files)`;

/** How a selector reads in logs and messages. */
export function selectorText(sel: WorkloadSelector): string {
  if (sel.name !== undefined) return `name ${sel.name}`;
  return `labels ${Object.entries(sel.labels ?? {})
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join("|") : v}`)
    .join(",")}`;
}
