// `tctl bots update`: change a bot's roles, logins (its `logins` trait) and max_session_ttl in
// place. Nothing else needs to move: output certificates read bot.spec.roles, the traits and
// max_session_ttl when they are requested (src/auth/output-certs.ts), so the change takes
// effect at the bot's next renewal or output, without a rejoin.
//
// Everything is checked before anything is written (an unknown role leaves the bot as it was),
// and the write is a compare-and-swap on the revision read, so two admins updating at once
// cannot silently undo each other's change.

import { formatDuration, parseDuration } from "../util/duration.ts";
import { badParameter, compareFailed, isCode, notFound } from "../util/errors.ts";
import type { AuditSink } from "./audit.ts";
import type { BotResource, RoleResource } from "./resources/index.ts";
import { validateBot } from "./resources/index.ts";
import type { Collection } from "./store/collection.ts";

/** What the admin asked for; `set_*` present (even empty) replaces, `add_*` appends. */
export interface BotUpdateRequest {
  name: string;
  add_roles?: string[];
  set_roles?: string[];
  add_logins?: string[];
  set_logins?: string[];
  /** A Go duration; "0" returns the bot to the default (12h). */
  max_session_ttl?: string;
}

export const botUpdateFlags = [
  "--add-roles",
  "--set-roles",
  "--add-logins",
  "--set-logins",
  "--set-max-session-ttl",
];

/** The bot's settings this command can change, as shown to the admin and in the audit log. */
export interface BotSettings {
  roles: string[];
  logins: string[];
  max_session_ttl: string;
}

export interface BotUpdateResult {
  bot: BotResource;
  before: BotSettings;
  after: BotSettings;
  /** Names of the settings that differ ("roles", "logins", "max_session_ttl"). */
  changed: (keyof BotSettings)[];
}

/** What the update needs from the auth service (AuthService has all of it). */
export interface BotUpdateDeps {
  bots: Pick<Collection<BotResource>, "get" | "compareAndSwap">;
  roles: { get(name: string): Promise<{ value: RoleResource } | null> };
  audit: AuditSink;
}

/** The bot resource's own ceiling (reference §7.3). */
const MAX_BOT_SESSION_TTL_MS = 168 * 3_600_000;
const DEFAULT_TTL_SHOWN = "12h (default)";

/** Request-only checks (no stored state): run by tctl before connecting, and by the server. */
export function checkBotUpdateRequest(req: BotUpdateRequest): void {
  if (!req.name) throw badParameter("expected a bot name: tctl bots update NAME [flags]");
  const given = [req.add_roles, req.set_roles, req.add_logins, req.set_logins, req.max_session_ttl];
  if (given.every((v) => v === undefined))
    throw badParameter(`nothing to update; use one or more of ${botUpdateFlags.join(", ")}`);
  if (req.add_roles !== undefined && req.set_roles !== undefined)
    throw badParameter("--add-roles and --set-roles cannot be used together: --set-roles replaces the list");
  if (req.add_logins !== undefined && req.set_logins !== undefined)
    throw badParameter(
      "--add-logins and --set-logins cannot be used together: --set-logins replaces the list",
    );
  if (req.add_roles?.length === 0) throw badParameter("--add-roles needs at least one role name");
  if (req.add_logins?.length === 0) throw badParameter("--add-logins needs at least one login");
  for (const v of [...(req.add_roles ?? []), ...(req.set_roles ?? [])])
    if (!v.trim()) throw badParameter("role names must not be empty");
  for (const v of [...(req.add_logins ?? []), ...(req.set_logins ?? [])])
    if (!v.trim()) throw badParameter("logins must not be empty");
  if (req.max_session_ttl !== undefined) {
    const ms = parseDuration(req.max_session_ttl);
    if (typeof ms === "string") throw badParameter(`--set-max-session-ttl: ${ms}`);
    if (ms > MAX_BOT_SESSION_TTL_MS)
      throw badParameter(`--set-max-session-ttl must be at most 168h, got ${formatDuration(ms)}`);
  }
}

export function settingsOf(bot: BotResource): BotSettings {
  return {
    roles: [...(bot.spec.roles ?? [])],
    logins: [...((bot.spec.traits ?? []).find((t) => t.name === "logins")?.values ?? [])],
    max_session_ttl: bot.spec.max_session_ttl || DEFAULT_TTL_SHOWN,
  };
}

const union = (a: string[], b: string[]) => [...new Set([...a, ...b])];

/** The bot as it will be after `req` (pure: no I/O). */
export function planBotUpdate(bot: BotResource, req: BotUpdateRequest): BotResource {
  const next = structuredClone(bot);
  next.spec.roles ??= [];
  next.spec.traits ??= [];
  if (req.set_roles) next.spec.roles = [...new Set(req.set_roles)];
  if (req.add_roles) next.spec.roles = union(next.spec.roles, req.add_roles);
  const oldLogins = settingsOf(bot).logins;
  const logins = req.set_logins ? [...new Set(req.set_logins)] : union(oldLogins, req.add_logins ?? []);
  // Other traits (db_users, …) are kept as they were; an empty logins trait is dropped.
  const others = next.spec.traits.filter((t) => t.name !== "logins");
  next.spec.traits = logins.length ? [...others, { name: "logins", values: logins }] : others;
  if (req.max_session_ttl !== undefined) {
    if (parseDuration(req.max_session_ttl) === 0) delete next.spec.max_session_ttl;
    else next.spec.max_session_ttl = req.max_session_ttl.trim();
  }
  return next;
}

function changedSettings(before: BotSettings, after: BotSettings): (keyof BotSettings)[] {
  return (Object.keys(before) as (keyof BotSettings)[]).filter(
    (k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]),
  );
}

/** Roles the request names must exist (a bot may not be promised a role that is not there). */
async function checkRolesExist(deps: BotUpdateDeps, req: BotUpdateRequest): Promise<void> {
  for (const role of [...(req.add_roles ?? []), ...(req.set_roles ?? [])])
    if (!(await deps.roles.get(role)))
      throw badParameter(`role "${role}" does not exist; create it first with tctl create`);
}

const CAS_ATTEMPTS = 5;

/** Validates, writes by compare-and-swap (re-planned on fresh data on a race), audits. */
export async function updateBot(
  deps: BotUpdateDeps,
  req: BotUpdateRequest,
  who: string,
): Promise<BotUpdateResult> {
  checkBotUpdateRequest(req);
  for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
    const cur = await deps.bots.get(req.name);
    if (!cur) throw notFound(`bot "${req.name}" not found; see "tctl bots ls"`);
    if (attempt === 0) await checkRolesExist(deps, req);
    const next = planBotUpdate(cur.value, req);
    // The same rules as a bot file (trait and TTL shapes), before the write.
    validateBot(next);
    const before = settingsOf(cur.value);
    const after = settingsOf(next);
    const changed = changedSettings(before, after);
    if (!changed.length) return { bot: cur.value, before, after, changed };
    try {
      await deps.bots.compareAndSwap(req.name, cur.revision, next, cur.expires);
    } catch (e) {
      if (isCode(e, "compare_failed")) continue;
      throw e;
    }
    const diff: Record<string, { from: unknown; to: unknown }> = {};
    for (const k of changed) diff[k] = { from: before[k], to: after[k] };
    deps.audit.emit("bot.update", { bot: req.name, changes: diff, by: who });
    return { bot: next, before, after, changed };
  }
  throw compareFailed(`bot "${req.name}" kept changing while it was being updated; try again`);
}
