// Matching a token resource's allow rules against verified ID-token claims (github, gitlab,
// kubernetes). Any one rule suffices; within a rule every configured field must match; a field
// left out of a rule does not constrain. Comparison is exact, except the fields where the
// reference matches a glob (GitLab's sub, ref, namespace_path, project_path) and GitLab's two
// protected flags, which the token carries as "true"/"false" strings.
//
// A rule with no field set, or with a field this table does not know, never matches: either
// would otherwise let every token of the issuer in. validateAllowRules says so when the token
// resource is written; matchAllowRules only refuses.

import { accessDenied, badParameter } from "../../util/errors.ts";
import { globMatch } from "./glob.ts";
import { shown, shownList } from "./shown.ts";

export type FieldMatch = "exact" | "glob" | "bool";

export interface AllowField {
  /** Field name in the allow rule, as written in the token resource. */
  rule: string;
  /** Claim compared; default the same name as the rule field. */
  claim?: string;
  match: FieldMatch;
  /** Derives the compared value from the claims when it is not a claim as such. */
  value?: (claims: Readonly<Record<string, unknown>>) => unknown;
}

export interface AllowRuleSpec {
  /** Join method name, for messages. */
  method: string;
  fields: readonly AllowField[];
  /** Each rule must set at least one of these: the fields that pin down who the caller is. */
  requireOneOf?: readonly string[];
}

/** An allow rule as read from the token resource: field → configured value. */
export type AllowRule = Readonly<Record<string, unknown>>;

/** github allow fields (reference §3): all compared exactly. */
export const GITHUB_ALLOW: AllowRuleSpec = {
  method: "github",
  fields: [
    "sub",
    "repository",
    "repository_owner",
    "workflow",
    "environment",
    "actor",
    "ref",
    "ref_type",
  ].map((rule) => ({ rule, match: "exact" as const })),
  requireOneOf: ["sub", "repository", "repository_owner"],
};

/** gitlab allow fields: the reference's glob on sub, ref, namespace_path and project_path. */
export const GITLAB_ALLOW: AllowRuleSpec = {
  method: "gitlab",
  fields: [
    { rule: "sub", match: "glob" },
    { rule: "ref", match: "glob" },
    { rule: "ref_type", match: "exact" },
    { rule: "namespace_path", match: "glob" },
    { rule: "project_path", match: "glob" },
    { rule: "pipeline_source", match: "exact" },
    { rule: "environment", match: "exact" },
    { rule: "user_login", match: "exact" },
    { rule: "user_id", match: "exact" },
    { rule: "user_email", match: "exact" },
    { rule: "ref_protected", match: "bool" },
    { rule: "environment_protected", match: "bool" },
    { rule: "ci_config_sha", match: "exact" },
    { rule: "ci_config_ref_uri", match: "exact" },
    { rule: "deployment_tier", match: "exact" },
    { rule: "project_visibility", match: "exact" },
  ],
  requireOneOf: ["sub", "namespace_path", "project_path"],
};

const SA_PREFIX = "system:serviceaccount:";

/** kubernetes allow fields: service_account "namespace:name", read from the token's sub. */
export const KUBERNETES_ALLOW: AllowRuleSpec = {
  method: "kubernetes",
  fields: [
    {
      rule: "service_account",
      claim: "sub",
      match: "exact",
      value: (c) =>
        typeof c.sub === "string" && c.sub.startsWith(SA_PREFIX) ? c.sub.slice(SA_PREFIX.length) : undefined,
    },
  ],
  requireOneOf: ["service_account"],
};

function isSet(v: unknown): boolean {
  return v !== undefined && v !== null && v !== "";
}

function claimValue(field: AllowField, claims: Readonly<Record<string, unknown>>): unknown {
  return field.value ? field.value(claims) : claims[field.claim ?? field.rule];
}

function fieldMatches(field: AllowField, want: unknown, got: unknown): boolean {
  switch (field.match) {
    case "exact":
      return typeof want === "string" && typeof got === "string" && got === want;
    case "glob":
      return typeof want === "string" && typeof got === "string" && globMatch(want, got);
    case "bool":
      if (typeof want !== "boolean") return false;
      return want ? got === true || got === "true" : got === false || got === "false";
  }
}

/** The rule that matched, by position. */
export interface AllowMatch {
  ruleIndex: number;
}

/**
 * Find the first allow rule the claims satisfy, or throw access_denied naming the claim that
 * failed in the closest rule (the one with the most fields matched), with the values the
 * rules allow for it: never the whole token or claim set.
 */
export function matchAllowRules(
  spec: AllowRuleSpec,
  rules: readonly AllowRule[],
  claims: Readonly<Record<string, unknown>>,
): AllowMatch {
  const byName = new Map(spec.fields.map((f) => [f.rule, f]));
  let closest: { matched: number; failed: AllowField } | undefined;
  let usable = 0;
  for (const [i, rule] of rules.entries()) {
    const set = Object.entries(rule).filter(([, v]) => isSet(v));
    // Unknown fields and empty rules widen nothing: the rule is skipped (validateAllowRules reports it).
    if (set.length === 0 || set.some(([k]) => !byName.has(k))) continue;
    usable++;
    let matched = 0;
    let failed: AllowField | undefined;
    for (const field of spec.fields) {
      if (!isSet(rule[field.rule])) continue;
      if (fieldMatches(field, rule[field.rule], claimValue(field, claims))) matched++;
      else failed ??= field;
    }
    if (!failed) return { ruleIndex: i };
    if (!closest || matched > closest.matched) closest = { matched, failed };
  }
  if (usable === 0)
    throw accessDenied(
      rules.length === 0
        ? `${spec.method} join token has no allow rules, so no ID token can use it`
        : `${spec.method} join token has no usable allow rule (each sets no field or an unknown one); fix the token resource`,
    );
  const field = closest!.failed;
  const allowed = [
    ...new Set(rules.map((r) => r[field.rule]).filter((v) => isSet(v) && typeof v !== "object")),
  ];
  const source = field.claim && field.claim !== field.rule ? ` (from "${field.claim}")` : "";
  const kind = field.match === "glob" ? "allowed patterns" : "allowed";
  return fail(
    `${field.rule} ${shown(claimValue(field, claims))}${source} does not match any allow rule (${kind}: ${shownList(allowed)})`,
  );
}

function fail(message: string): never {
  throw accessDenied(message);
}

/**
 * Check allow rules when a token resource is written: each rule an object with known fields of
 * the right type, at least one field set, and one of `requireOneOf` when the spec has it.
 */
export function validateAllowRules(spec: AllowRuleSpec, rules: unknown): void {
  const where = `${spec.method}.allow`;
  if (!Array.isArray(rules) || rules.length === 0) throw badParameter(`${where} must list at least one rule`);
  const byName = new Map(spec.fields.map((f) => [f.rule, f]));
  for (const [i, rule] of rules.entries()) {
    const at = `${where}[${i}]`;
    if (typeof rule !== "object" || rule === null || Array.isArray(rule))
      throw badParameter(`${at} must be a mapping of fields`);
    const set = Object.entries(rule as Record<string, unknown>).filter(([, v]) => isSet(v));
    for (const [k, v] of set) {
      const field = byName.get(k);
      if (!field)
        throw badParameter(
          `${at}: unknown field ${shown(k)} (known: ${spec.fields.map((f) => f.rule).join(", ")})`,
        );
      const ok = field.match === "bool" ? typeof v === "boolean" : typeof v === "string";
      if (!ok) throw badParameter(`${at}.${k} must be a ${field.match === "bool" ? "boolean" : "string"}`);
    }
    if (set.length === 0) throw badParameter(`${at} sets no field; a rule must constrain the caller`);
    if (spec.requireOneOf && !spec.requireOneOf.some((f) => isSet((rule as Record<string, unknown>)[f])))
      throw badParameter(`${at} must set at least one of ${spec.requireOneOf.join(", ")}`);
  }
}
