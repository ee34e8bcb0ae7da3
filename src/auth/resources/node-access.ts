// Whether a role set lets a bot reach a node with given labels, by Teleport's rules:
// any allowing role suffices, any denying role wins, an empty selector matches nothing,
// "*": "*" matches every node, and a value may be a list, a glob ("prod-*") or a ^regexp$.

import type { RoleResource } from "../../resources/types.ts";

type Selector = Record<string, string | string[]>;

export function rolesAllowNode(roles: RoleResource[], labels: Record<string, string>): boolean {
  // Expressions are not evaluated here; an unevaluated deny must not be ignored, so it denies.
  if (roles.some((r) => hasExpression(r.spec.deny.node_labels_expression))) return false;
  try {
    if (roles.some((r) => matchLabels(r.spec.deny.node_labels, labels))) return false;
    return roles.some((r) => matchLabels(allowSelector(r), labels));
  } catch {
    return false; // a broken ^regexp$ in any selector: Teleport fails the check, so do we
  }
}

/** v3 roles that grant logins but name no node_labels reach every node (Teleport's v3 default). */
function allowSelector(role: RoleResource): Selector | undefined {
  const { node_labels, logins } = role.spec.allow;
  if (node_labels === undefined && role.version === "v3" && (logins?.length ?? 0) > 0) return { "*": "*" };
  return node_labels;
}

function hasExpression(value: unknown): boolean {
  return typeof value === "string" && value.trim() !== "";
}

export function matchLabels(selector: Selector | undefined, labels: Record<string, string>): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  const wildcard = valuesOf(selector["*"]);
  if (wildcard.length === 1 && wildcard[0] === "*") return true;
  return Object.entries(selector).every(([key, wanted]) => {
    // Own labels only: a selector key "constructor" must not find Object.prototype's.
    const actual = Object.hasOwn(labels, key) ? labels[key] : undefined;
    if (actual === undefined) return false;
    const values = valuesOf(wanted);
    return values.includes("*") || values.some((pattern) => matchValue(actual, pattern));
  });
}

function valuesOf(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

function matchValue(actual: string, pattern: string): boolean {
  if (pattern.startsWith("^") && pattern.endsWith("$")) return new RegExp(pattern).test(actual);
  if (!pattern.includes("*")) return actual === pattern;
  const glob = pattern
    .split("*")
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
    .join(".*");
  return new RegExp(`^${glob}$`).test(actual);
}
