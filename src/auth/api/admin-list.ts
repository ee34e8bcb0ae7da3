// `tctl get` and the listings built on it, a page at a time: every request reads at most one
// page of its kind from the backend (limit, start_after; the answer's `next` is where the
// following page starts), so neither a fleet of bot instances nor a pile of tokens is ever
// loaded whole to answer one request. tctl pages through for its output. A page may hold
// fewer items than asked for where a filter drops some (used tokens, other bots' instances):
// only `next` says whether there is more.

import { DEFAULT_ADMIN_PAGE, MAX_ADMIN_PAGE } from "../../protocol/admin-messages.ts";
import { badParameter, notFound } from "../../util/errors.ts";
import type { AuthService, StoredToken } from "../service.ts";
import type { Page } from "../store/collection.ts";
import { displayToken, findTokenByNameOrMask } from "./admin-resources.ts";

export interface ListRequest {
  kind: string;
  name?: string;
  /** bot_instance only: the instances of this bot. */
  bot?: string;
  limit?: number;
  start_after?: string;
}

export interface ListResult {
  resources: object[];
  next?: string;
}

function paged<T>(page: Page<T>, keep: (v: T) => boolean = () => true): ListResult {
  const resources = page.items.map((x) => x.value).filter(keep) as object[];
  return page.next !== undefined ? { resources, next: page.next } : { resources };
}

export async function getResources(svc: AuthService, req: ListRequest): Promise<ListResult> {
  const { name } = req;
  const limit = Math.min(req.limit ?? DEFAULT_ADMIN_PAGE, MAX_ADMIN_PAGE);
  const at = { limit, startAfter: req.start_after };
  const one = <T>(v: { value: T } | null, what: string): ListResult => {
    if (!v) throw notFound(`${what} "${name}" not found`);
    return { resources: [v.value as object] };
  };
  switch (req.kind) {
    case "bot":
    case "bots":
      return name ? one(await svc.bots.get(name), "bot") : paged(await svc.bots.listPage(at));
    case "role":
    case "roles":
      return name ? one(await svc.roles.get(name), "role") : paged(await svc.roles.listPage(at));
    case "token":
    case "tokens":
      return name ? oneToken(svc, name) : tokenPage(svc, at);
    case "bot_instance":
    case "bot_instances":
      return instancePage(svc, req, at);
    case "lock":
    case "locks":
      return name ? one(await svc.locks.get(name), "lock") : paged(await svc.locks.listPage(at));
    case "node":
    case "nodes":
      return name ? one(await svc.nodes.get(name), "node") : paged(await svc.nodes.listPage(at));
    case "app":
    case "apps":
      return name ? one(await svc.apps.get(name), "app") : paged(await svc.apps.listPage(at));
    case "db":
    case "dbs":
    case "database":
    case "databases":
      return name ? one(await svc.databases.get(name), "db") : paged(await svc.databases.listPage(at));
    case "workload_identity":
    case "workload_identities":
      return name
        ? one(await svc.workloadIdentities.get(name), "workload_identity")
        : paged(await svc.workloadIdentities.listPage(at));
    case "admin_identity":
    case "admin_identities":
      return adminIdentities(svc, name, at);
    default:
      throw badParameter(
        `unsupported resource kind "${req.kind}" (supported: bot, role, token, bot_instance, lock, node, app, db, workload_identity, admin_identity)`,
      );
  }
}

async function oneToken(svc: AuthService, name: string): Promise<ListResult> {
  const f = await findTokenByNameOrMask(svc, name);
  if (!f || f.stored.value.consumed_at) throw notFound(`token "${name}" not found`);
  const shown = displayToken(f.stored.value, f.hash);
  if (f.key) shown.metadata.name = name; // the caller already knows the name
  return { resources: [shown] };
}

/** Unused tokens, names masked where they are secrets; the cursor is a key hash, never a name. */
async function tokenPage(svc: AuthService, at: { limit: number; startAfter?: string }): Promise<ListResult> {
  // The backend's items, not the collection's: the mask is made from the key's hash.
  const items = await svc.backend.list(TOKENS, {
    limit: at.limit,
    ...(at.startAfter !== undefined ? { startAfter: TOKENS + at.startAfter } : {}),
  });
  const resources: object[] = [];
  for (const it of items) {
    const st = JSON.parse(it.value) as StoredToken;
    if (!st.consumed_at) resources.push(displayToken(st, it.key.slice(TOKENS.length)));
  }
  const last = items[items.length - 1];
  return last && items.length === at.limit
    ? { resources, next: last.key.slice(TOKENS.length) }
    : { resources };
}

const TOKENS = "/tokens/";

/**
 * "BOT/ID" is one key; `bot` is one key range; a bare NAME (a bot's name or an instance ID,
 * as `tctl get bot_instance/NAME` has always matched either) filters the whole collection,
 * a page per request.
 */
async function instancePage(
  svc: AuthService,
  req: ListRequest,
  at: { limit: number; startAfter?: string },
): Promise<ListResult> {
  const { name, bot } = req;
  if (name?.includes("/")) {
    const inst = await svc.instances.get(name);
    return { resources: inst ? [inst.value] : [] };
  }
  if (bot !== undefined) return paged(await svc.instances.listPage({ ...at, subPrefix: `${bot}/` }));
  const page = await svc.instances.listPage(at);
  return name ? paged(page, (i) => i.spec.instance_id === name || i.spec.bot_name === name) : paged(page);
}

/** Admin identities with, for a locked one, the lock in status.locked_by. */
async function adminIdentities(
  svc: AuthService,
  name: string | undefined,
  at: { limit: number; startAfter?: string },
): Promise<ListResult> {
  let page: Page<{ metadata: { name: string } }>;
  if (name) {
    const one = await svc.adminIdentities.get(name);
    if (!one) throw notFound(`admin_identity "${name}" not found`);
    page = { items: [one] };
  } else page = await svc.adminIdentities.listPage(at);
  // The lock index (lock-index.ts) is what refuses a locked identity: show what it holds.
  const resources = page.items.map(({ value: a }) => {
    const lock = svc.lockIndex.find({ adminIdentity: a.metadata.name });
    return lock ? { ...a, status: { locked_by: lock.metadata.name } } : a;
  });
  return page.next !== undefined ? { resources, next: page.next } : { resources };
}
