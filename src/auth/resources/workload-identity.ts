// kind: workload_identity, version v1 (the reference's WorkloadIdentity resource): what a bot
// may issue to its workloads as SPIFFE SVIDs, and when.
//
// - spec.spiffe.id is the path of the SPIFFE ID, a template: `{{ join.github.repository }}`,
//   `{{ workload.unix.uid }}`, `{{ user.bot_name }}`. At create the literal parts must be made
//   of SPIFFE path characters and every `{{ … }}` must name an attribute of a known namespace
//   (join, workload, user); after rendering the whole path is checked again (SPIFFE ID spec:
//   starts with "/", segments of [A-Za-z0-9._-], none empty, "." or "..", no trailing "/").
// - spec.rules.allow: OR across rules, AND across the conditions of one rule; each condition
//   compares one attribute with eq / not_eq / in / not_in. No rules: always allowed. An
//   attribute the request does not have fails its condition (and says so).
// - Roles grant identities by workload_identity_labels (allow and deny, like app_labels).
// - A template naming an attribute the request lacks issues nothing, with the reason.

import type { Cursor, Fields } from "../../resources/cursor.ts";
import { readMetadata, readVersion } from "../../resources/metadata.ts";
import type {
  RoleResource,
  WorkloadIdentityCondition,
  WorkloadIdentityResource,
} from "../../resources/types.ts";
import { matchLabels } from "./node-access.ts";

/** The attribute namespaces a template or condition may name. */
export const attributeNamespaces = ["join", "workload", "user"] as const;

const nameRule = /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$/;

export function workloadIdentityNameProblem(name: string): string | undefined {
  if (nameRule.test(name)) return undefined;
  return `workload_identity name "${name}" is invalid: use 1 to 63 letters, digits, ".", "_" and "-", starting with a letter or digit`;
}

// ---- SPIFFE IDs ----

const pathChars = /^[A-Za-z0-9._-]+$/;

/** What is wrong with a SPIFFE ID path ("/a/b"), or undefined (SPIFFE ID spec §2.2). */
export function spiffePathProblem(path: string): string | undefined {
  if (!path.startsWith("/")) return `SPIFFE ID path "${path}" must start with "/"`;
  if (path === "/") return `SPIFFE ID path "/" is empty: name at least one segment`;
  if (path.endsWith("/")) return `SPIFFE ID path "${path}" must not end with "/"`;
  if (path.length > 2048) return "SPIFFE ID path is longer than 2048 characters";
  for (const seg of path.slice(1).split("/")) {
    if (seg === "") return `SPIFFE ID path "${path}" has an empty segment ("//")`;
    if (seg === "." || seg === "..") return `SPIFFE ID path "${path}" has a "${seg}" segment`;
    if (!pathChars.test(seg))
      return `SPIFFE ID path "${path}" has a character outside [A-Za-z0-9._-] in segment "${seg}"`;
  }
  return undefined;
}

/** What is wrong with a trust domain name, or undefined: lowercase [a-z0-9._-]. */
export function trustDomainProblem(td: string): string | undefined {
  if (td.length > 0 && td.length <= 255 && /^[a-z0-9._-]+$/.test(td)) return undefined;
  return `trust domain "${td}" is invalid: use lowercase letters, digits, ".", "_" and "-"`;
}

/** The cluster name as a trust domain: lowercased, other characters replaced by "-". */
export function trustDomainOf(clusterName: string): string {
  return clusterName.toLowerCase().replace(/[^a-z0-9._-]/g, "-");
}

// ---- Templates ----

const templateRe = /\{\{\s*([^{}]*?)\s*\}\}/g;
const attrRe = /^[a-zA-Z_][a-zA-Z0-9_-]*(\.[a-zA-Z0-9_.-]*[a-zA-Z0-9_-])*$/;

/** Problems of a template's expressions: unknown namespace, malformed attribute, stray braces. */
export function templateProblem(text: string): string | undefined {
  for (const m of text.matchAll(templateRe)) {
    const attr = m[1]!;
    if (!attrRe.test(attr)) return `template "${m[0]}" is not an attribute name such as {{ user.bot_name }}`;
    const ns = attr.split(".")[0]!;
    if (!(attributeNamespaces as readonly string[]).includes(ns))
      return `template "${m[0]}" names the unknown attribute namespace "${ns}" (known: ${attributeNamespaces.join(", ")})`;
    if (!attr.includes("."))
      return `template "${m[0]}" names a namespace, not an attribute (e.g. ${ns}.name)`;
  }
  const rest = text.replace(templateRe, "");
  if (rest.includes("{{") || rest.includes("}}")) return `template "${text}" has unbalanced "{{" or "}}"`;
  return undefined;
}

export type Attributes = Record<string, unknown>;

/** An attribute by its dotted path; scalars as strings, lists as string lists, else undefined. */
export function lookupAttribute(attrs: Attributes, path: string): string | string[] | undefined {
  let cur: unknown = attrs;
  const parts = path.split(".");
  for (let i = 0; i < parts.length; i++) {
    if (!cur || typeof cur !== "object" || Array.isArray(cur)) return undefined;
    const obj = cur as Record<string, unknown>;
    // A key may itself hold dots (a claim "kubernetes.io"): try the longest match first.
    let found = false;
    for (let j = parts.length; j > i; j--) {
      const key = parts.slice(i, j).join(".");
      if (Object.hasOwn(obj, key)) {
        cur = obj[key];
        i = j - 1;
        found = true;
        break;
      }
    }
    if (!found) return undefined;
  }
  if (typeof cur === "string") return cur;
  if (typeof cur === "number" || typeof cur === "boolean") return String(cur);
  if (Array.isArray(cur) && cur.every((v) => typeof v === "string")) return cur as string[];
  return undefined;
}

export class MissingAttributeError extends Error {
  constructor(
    readonly attribute: string,
    readonly expression: string,
  ) {
    super(`template ${expression} needs attribute ${attribute}`);
  }
}

/** Renders a template; throws MissingAttributeError for an attribute the request lacks. */
export function renderTemplate(text: string, attrs: Attributes): string {
  return text.replace(templateRe, (_whole, attr: string) => {
    const v = lookupAttribute(attrs, attr);
    if (v === undefined || (Array.isArray(v) && v.length !== 1))
      throw new MissingAttributeError(attr, `{{ ${attr} }}`);
    return Array.isArray(v) ? v[0]! : v;
  });
}

/**
 * Every `workload.*` attribute the identity's rules and templates read, sorted. Every string of
 * the spec is searched for template expressions, so a templated field added later is counted
 * without a change here: reading more than needed only shares less, never wrongly.
 */
export function workloadAttributesRead(wi: WorkloadIdentityResource): string[] {
  const read = new Set<string>();
  const visit = (v: unknown): void => {
    if (typeof v === "string") {
      for (const m of v.matchAll(templateRe)) if (m[1]!.startsWith("workload.")) read.add(m[1]!);
    } else if (Array.isArray(v)) v.forEach(visit);
    else if (v && typeof v === "object") Object.values(v).forEach(visit);
  };
  visit(wi.spec);
  for (const rule of wi.spec.rules?.allow ?? [])
    for (const c of rule.conditions ?? []) if (c.attribute.startsWith("workload.")) read.add(c.attribute);
  return [...read].sort();
}

// ---- Rules ----

/** null when a rule allows (or there are none), else why none did. */
export function rulesProblem(wi: WorkloadIdentityResource, attrs: Attributes): string | null {
  const rules = wi.spec.rules?.allow ?? [];
  if (rules.length === 0) return null;
  const reasons: string[] = [];
  for (const [i, rule] of rules.entries()) {
    const failed = (rule.conditions ?? []).map((c) => conditionProblem(c, attrs)).find((p) => p !== null);
    if (failed === undefined) return null;
    reasons.push(`rule ${i + 1}: ${failed}`);
  }
  return `no allow rule matched (${reasons.join("; ")})`;
}

function conditionProblem(c: WorkloadIdentityCondition, attrs: Attributes): string | null {
  const raw = lookupAttribute(attrs, c.attribute);
  if (raw === undefined) return `attribute ${c.attribute} is not set`;
  const values = Array.isArray(raw) ? raw : [raw];
  const shown = Array.isArray(raw) ? `[${raw.join(", ")}]` : `"${raw}"`;
  if (c.eq && !values.includes(c.eq.value)) return `${c.attribute} is ${shown}, not "${c.eq.value}"`;
  if (c.not_eq && values.includes(c.not_eq.value)) return `${c.attribute} is "${c.not_eq.value}"`;
  if (c.in && !values.some((v) => c.in!.values.includes(v)))
    return `${c.attribute} is ${shown}, not one of ${c.in.values.join(", ")}`;
  if (c.not_in && values.some((v) => c.not_in!.values.includes(v)))
    return `${c.attribute} is ${shown}, which is one of ${c.not_in.values.join(", ")}`;
  return null;
}

// ---- Role access ----

/** null when the roles grant `wi` by workload_identity_labels and none denies it, else why not. */
export function workloadIdentityAccessProblem(
  roles: RoleResource[],
  wi: WorkloadIdentityResource,
): string | null {
  const labels = wi.metadata.labels ?? {};
  const name = wi.metadata.name;
  for (const r of roles) {
    const expr = r.spec.deny.workload_identity_labels_expression;
    if (typeof expr === "string" && expr.trim() !== "")
      return `role "${r.metadata.name}" denies workload_identity "${name}" (deny.workload_identity_labels_expression is not evaluated here, so it denies every workload identity)`;
    let denied: boolean;
    try {
      denied = matchLabels(r.spec.deny.workload_identity_labels, labels);
    } catch {
      denied = true;
    }
    if (denied) return `role "${r.metadata.name}" denies workload_identity "${name}"`;
  }
  const allows = roles.some((r) => {
    try {
      return matchLabels(r.spec.allow.workload_identity_labels, labels);
    } catch {
      return false;
    }
  });
  if (allows) return null;
  const shown = Object.entries(labels).map(([k, v]) => `${k}: ${v}`);
  return `no role grants workload_identity "${name}" (labels {${shown.join(", ")}}): add workload_identity_labels that match it to one of the bot's roles`;
}

// ---- Reading ----

const reservedClaims = ["sub", "aud", "exp", "iat", "nbf", "jti", "iss"];

export function readWorkloadIdentity(top: Fields): WorkloadIdentityResource {
  const version = readVersion(top, "workload_identity", ["v1"]) as "v1";
  const metadata = readMetadata(top, workloadIdentityNameProblem);
  const specNode = top.get("spec");
  if (specNode.missing) top.get("kind").fail("spec.spiffe.id is required");
  const spec = specNode.map().strict(["rules", "spiffe"]);
  const spiffeNode = spec.get("spiffe");
  if (spiffeNode.missing) specNode.fail("spec.spiffe.id is required");
  const spiffe = spiffeNode.map().strict(["id", "hint", "x509", "jwt"]);
  const id = spiffe.optStr("id") ?? "";
  const idAt = spiffe.has("id") ? spiffe.get("id") : spiffeNode;
  if (!id) idAt.fail("spec.spiffe.id is required");
  checkTemplate(idAt, id);
  // The literal parts must already be a valid path: a placeholder stands in for each template.
  const literal = id.replace(templateRe, "x");
  const problem = spiffePathProblem(literal);
  if (problem) idAt.fail(`spec.spiffe.id: ${problem.replace(`"${literal}"`, `"${id}"`)}`);
  const out: WorkloadIdentityResource = {
    kind: "workload_identity",
    version,
    metadata,
    spec: { spiffe: { id } },
  };
  const hint = spiffe.optStr("hint");
  if (hint) out.spec.spiffe.hint = hint;
  if (spiffe.has("x509")) {
    const x = spiffe.get("x509").map().strict(["dns_sans", "subject_template", "maximum_ttl"]);
    const x509: NonNullable<WorkloadIdentityResource["spec"]["spiffe"]["x509"]> = {};
    if (x.has("dns_sans")) {
      x509.dns_sans = x.get("dns_sans").strList();
      for (const d of x509.dns_sans) checkTemplate(x.get("dns_sans"), d);
    }
    if (x.has("subject_template")) {
      const st = x
        .get("subject_template")
        .map()
        .strict(["common_name", "organization", "organizational_unit"]);
      const subject: Record<string, string> = {};
      for (const k of ["common_name", "organization", "organizational_unit"]) {
        const v = st.optStr(k);
        if (v) {
          checkTemplate(st.get(k), v);
          subject[k] = v;
        }
      }
      x509.subject_template = subject;
    }
    if (x.has("maximum_ttl")) x509.maximum_ttl = ttl(x.get("maximum_ttl"));
    out.spec.spiffe.x509 = x509;
  }
  if (spiffe.has("jwt")) {
    const j = spiffe.get("jwt").map().strict(["extra_claims", "maximum_ttl"]);
    const jwt: NonNullable<WorkloadIdentityResource["spec"]["spiffe"]["jwt"]> = {};
    if (j.has("extra_claims")) {
      const claimsNode = j.get("extra_claims");
      const claims = claimsNode.map();
      for (const k of claims.keys())
        if (reservedClaims.includes(k))
          claims.get(k).fail(`spec.spiffe.jwt.extra_claims may not set the reserved claim "${k}"`);
      const value = claimsNode.toJS() as Record<string, unknown>;
      eachString(value, (s) => checkTemplate(claimsNode, s));
      jwt.extra_claims = value;
    }
    if (j.has("maximum_ttl")) jwt.maximum_ttl = ttl(j.get("maximum_ttl"));
    out.spec.spiffe.jwt = jwt;
  }
  if (spec.has("rules")) {
    const rules = spec.get("rules").map().strict(["allow"]);
    if (rules.has("allow"))
      out.spec.rules = {
        allow: rules
          .get("allow")
          .list()
          .map((r) => ({ conditions: readConditions(r) })),
      };
  }
  return out;
}

function ttl(node: Cursor): string {
  const ms = node.duration();
  if (ms <= 0) node.fail(`${node.path} must be positive`);
  return node.str();
}

function checkTemplate(at: Cursor, text: string): void {
  const p = templateProblem(text);
  if (p) at.fail(`${at.path}: ${p}`);
}

function eachString(v: unknown, fn: (s: string) => void): void {
  if (typeof v === "string") fn(v);
  else if (Array.isArray(v)) for (const x of v) eachString(x, fn);
  else if (v && typeof v === "object") for (const x of Object.values(v)) eachString(x, fn);
}

function readConditions(rule: Cursor): WorkloadIdentityCondition[] {
  const fields = rule.map().strict(["conditions", "expression"]);
  if (fields.has("expression"))
    fields.get("expression").fail("rule expressions are not supported by this build; use conditions");
  if (!fields.has("conditions")) return [];
  return fields
    .get("conditions")
    .list()
    .map((node) => {
      const c = node.map().strict(["attribute", "eq", "not_eq", "in", "not_in"]);
      const attribute = c.optStr("attribute") ?? "";
      if (!attribute) node.fail(`${node.path}.attribute is required`);
      const p = templateProblem(`{{ ${attribute} }}`);
      if (p)
        c.get("attribute").fail(`${node.path}.attribute: ${p.replace(/template "[^"]*"/, `"${attribute}"`)}`);
      const out: WorkloadIdentityCondition = { attribute };
      let ops = 0;
      for (const op of ["eq", "not_eq"] as const)
        if (c.has(op)) {
          const v = c.get(op).map().strict(["value"]);
          out[op] = { value: v.get("value").str() };
          ops++;
        }
      for (const op of ["in", "not_in"] as const)
        if (c.has(op)) {
          const v = c.get(op).map().strict(["values"]);
          out[op] = { values: v.get("values").strList() };
          ops++;
        }
      if (ops !== 1) node.fail(`${node.path}: a condition needs exactly one of eq, not_eq, in, not_in`);
      return out;
    });
}
