// SSH logins a role set grants, with trait templates expanded. These become the principals of
// the bot's SSH certificates, and OpenSSH (which knows nothing of roles) enforces only those,
// so denied logins are removed here rather than checked later at a node.

import type { RoleResource } from "../../resources/types.ts";

/** allow.logins of every role, templates expanded, empties dropped, deduplicated, minus deny.logins. */
export function expandLogins(roles: RoleResource[], traits: Record<string, string[]>): string[] {
  const expand = (pick: (r: RoleResource) => string[] | undefined) =>
    roles.flatMap((r) => (pick(r) ?? []).flatMap((login) => expandTemplate(login, traits)));
  const denied = new Set(expand((r) => r.spec.deny.logins));
  if (denied.has("*")) return [];
  const allowed = expand((r) => r.spec.allow.logins).filter((login) => login !== "" && !denied.has(login));
  return [...new Set(allowed)];
}

const templatePattern = /\{\{(.*?)\}\}/g;

/**
 * "{{internal.logins}}", "{{external.user}}", "{{external[\"a-b\"]}}", with an optional literal
 * prefix/suffix ("adm-{{internal.logins}}"), and Teleport's email.local() and regexp.replace().
 * A template naming an absent trait yields nothing, as in Teleport.
 */
export function expandTemplate(value: string, traits: Record<string, string[]>): string[] {
  const matches = [...value.matchAll(templatePattern)];
  if (matches.length === 0) return [value];
  if (matches.length > 1) return []; // Teleport allows one expression per value
  const m = matches[0]!;
  const prefix = value.slice(0, m.index);
  const suffix = value.slice(m.index + m[0].length);
  return evaluate(m[1]!.trim(), traits)
    .filter((v) => v !== "")
    .map((v) => prefix + v + suffix);
}

const variable = /^(internal|external)(?:\.([A-Za-z0-9_.:/-]+)|\[\s*"([^"]+)"\s*\])$/;
const emailLocal = /^email\.local\(\s*(.+?)\s*\)$/;
const regexpReplace = /^regexp\.replace\(\s*(.+?)\s*,\s*"((?:[^"\\]|\\.)*)"\s*,\s*"((?:[^"\\]|\\.)*)"\s*\)$/;

function evaluate(expression: string, traits: Record<string, string[]>): string[] {
  const v = variable.exec(expression);
  if (v) return traits[v[2] ?? v[3]!] ?? [];
  const e = emailLocal.exec(expression);
  if (e) return evaluate(e[1]!, traits).flatMap((address) => localPart(address));
  const r = regexpReplace.exec(expression);
  if (r) return regexpReplaceAll(evaluate(r[1]!, traits), unquote(r[2]!), unquote(r[3]!));
  return [];
}

function localPart(address: string): string[] {
  const at = address.lastIndexOf("@");
  return at > 0 ? [address.slice(0, at)] : [];
}

/** Values the expression does not match are dropped (Teleport's semantics). */
function regexpReplaceAll(values: string[], pattern: string, replacement: string): string[] {
  let re: RegExp;
  try {
    re = new RegExp(pattern);
  } catch {
    return [];
  }
  // Go writes ${1}; JS writes $1 (and accepts ${1} only for named groups).
  const jsReplacement = replacement.replace(/\$\{(\d+)\}/g, "$$$1");
  return values.filter((v) => re.test(v)).map((v) => v.replace(re, jsReplacement));
}

function unquote(s: string): string {
  return s.replace(/\\(.)/g, "$1");
}
