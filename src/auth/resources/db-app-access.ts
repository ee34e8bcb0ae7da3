// What a role set lets a bot request for databases and applications, by Teleport's rules as
// its role spec has them (db_labels, db_users, db_names, app_labels):
// - allow: one role must grant all of it at once — its db_labels match the database's labels
//   AND its db_users hold the user AND (when a database name is asked for) its db_names hold
//   the name; roles do not combine (one role's users with another's databases is no grant);
// - deny: a role whose deny.db_labels match the database (or that names no deny.db_labels:
//   then it applies to every database) denies each user in deny.db_users and each name in
//   deny.db_names; deny.db_labels matching with neither list denies the database whole;
// - values may be "*" or globs ("ro_*"), and trait templates ("{{internal.db_users}}") expand
//   from the bot's traits; labels match as node_labels do (node-access.ts).
// - *_labels_expression is not evaluated here; an unevaluated deny must not be ignored, so a
//   role with a deny.db_labels_expression (app_labels_expression) denies every db (app), as
//   node access does.
// An explanation is returned for a refusal, naming what is allowed, or null when granted.

const hasExpression = (v: unknown) => typeof v === "string" && v.trim() !== "";

import type { AppResource, DatabaseResource, RoleResource } from "../../resources/types.ts";
import { expandTemplate } from "./logins.ts";
import { matchLabels } from "./node-access.ts";

type Traits = Record<string, string[]>;

export interface DatabaseRequest {
  username: string;
  /** The database inside the server; optional (the certificate does not carry it to PostgreSQL). */
  database?: string;
}

const expand = (values: string[] | undefined, traits: Traits) =>
  (values ?? []).flatMap((v) => expandTemplate(v, traits)).filter((v) => v !== "");

function matchesAny(patterns: string[], value: string): boolean {
  return patterns.some((p) => {
    if (p === "*") return true;
    if (p.startsWith("^") && p.endsWith("$")) {
      try {
        return new RegExp(p).test(value);
      } catch {
        return false;
      }
    }
    if (!p.includes("*")) return p === value;
    const glob = p
      .split("*")
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
      .join(".*");
    return new RegExp(`^${glob}$`).test(value);
  });
}

function labelsMatch(
  selector: Record<string, string | string[]> | undefined,
  labels: Record<string, string>,
) {
  try {
    return matchLabels(selector, labels);
  } catch {
    return false; // a broken ^regexp$: fail closed for allow (deny callers treat it as a match)
  }
}

/** null when the roles allow `req` on `db`, else a one-line reason naming what is allowed. */
export function databaseAccessProblem(
  roles: RoleResource[],
  traits: Traits,
  db: DatabaseResource,
  req: DatabaseRequest,
): string | null {
  const labels = db.metadata.labels ?? {};
  const name = db.metadata.name;
  for (const r of roles) {
    const deny = r.spec.deny;
    if (hasExpression(deny.db_labels_expression))
      return `role "${r.metadata.name}" denies db "${name}" (deny.db_labels_expression is not evaluated here, so it denies every database)`;
    const selector = deny.db_labels;
    let applies: boolean;
    try {
      applies = selector === undefined || matchLabels(selector, labels);
    } catch {
      applies = true; // an unreadable deny never opens access
    }
    if (!applies) continue;
    const users = expand(deny.db_users, traits);
    const names = expand(deny.db_names, traits);
    if (selector !== undefined && users.length === 0 && names.length === 0 && Object.keys(selector).length)
      return `role "${r.metadata.name}" denies db "${name}"`;
    if (matchesAny(users, req.username))
      return `role "${r.metadata.name}" denies database user "${req.username}" on db "${name}"`;
    if (req.database !== undefined && matchesAny(names, req.database))
      return `role "${r.metadata.name}" denies database name "${req.database}" on db "${name}"`;
  }
  const reaching = roles.filter((r) => labelsMatch(r.spec.allow.db_labels, labels));
  if (reaching.length === 0)
    return `no role allows db "${name}" (labels ${formatLabels(labels)}): add db_labels that match it to one of the bot's roles`;
  const withUser = reaching.filter((r) => matchesAny(expand(r.spec.allow.db_users, traits), req.username));
  if (withUser.length === 0) {
    const allowed = [...new Set(reaching.flatMap((r) => expand(r.spec.allow.db_users, traits)))];
    return `role does not allow database user "${req.username}" on db "${name}"; allowed: ${allowed.join(", ") || "(none)"}`;
  }
  if (req.database === undefined) return null;
  const db2 = req.database;
  if (withUser.some((r) => matchesAny(expand(r.spec.allow.db_names, traits), db2))) return null;
  const allowed = [...new Set(withUser.flatMap((r) => expand(r.spec.allow.db_names, traits)))];
  return `role does not allow database name "${db2}" for user "${req.username}" on db "${name}"; allowed: ${allowed.join(", ") || "(none)"}`;
}

/** null when the roles' app_labels reach `app` and no deny.app_labels does, else a reason. */
export function appAccessProblem(roles: RoleResource[], app: AppResource): string | null {
  const labels = app.metadata.labels ?? {};
  for (const r of roles) {
    if (hasExpression(r.spec.deny.app_labels_expression))
      return `role "${r.metadata.name}" denies app "${app.metadata.name}" (deny.app_labels_expression is not evaluated here, so it denies every app)`;
    let denied: boolean;
    try {
      denied = matchLabels(r.spec.deny.app_labels, labels);
    } catch {
      denied = true;
    }
    if (denied) return `role "${r.metadata.name}" denies app "${app.metadata.name}"`;
  }
  if (roles.some((r) => labelsMatch(r.spec.allow.app_labels, labels))) return null;
  return `no role allows app "${app.metadata.name}" (labels ${formatLabels(labels)}): add app_labels that match it to one of the bot's roles`;
}

function formatLabels(labels: Record<string, string>): string {
  const e = Object.entries(labels);
  return e.length ? `{${e.map(([k, v]) => `${k}: ${v}`).join(", ")}}` : "{}";
}
