// Resources through the admin API: create/upsert (validation, server-only status kept, the
// bound-keypair registration secret), delete; getting them, a page at a time, is admin-list.ts.

import { randomBytes } from "node:crypto";
import { maskSecret } from "../../join/types.ts";
import { DEFAULT_ADMIN_PAGE } from "../../protocol/admin-messages.ts";
import { parseAllowedCas } from "../../tpm/server/index.ts";
import { alreadyExists, badParameter, isCode, notFound, UserError } from "../../util/errors.ts";
import { type AtomicOp, type Condition, MAX_ATOMIC_OPS } from "../backend/atomic.ts";
import { botRoleName, botUserName } from "../bot-identity.ts";
import { forgetInstance } from "../instances.ts";
import type { BotResource, Resource, RoleResource, TokenResource } from "../resources/index.ts";
import { validateBot, validateRole, validateToken } from "../resources/index.ts";
import type { AuthService, StoredToken } from "../service.ts";
import { type Collection, type Stored, sha256Hex } from "../store/collection.ts";
import type { BotInstance } from "../store/types.ts";

/** The name tctl shows for a token: the name itself, or a mask for secret (token-method) names. */
export function displayToken(t: StoredToken, hash: string): TokenResource {
  const out = structuredClone(t.token);
  if ((out.spec.join_method || "token") === "token") out.metadata.name = maskSecret(hash);
  return out;
}

const isSecretToken = (t: TokenResource) => (t.spec.join_method || "token") === "token";

/** Every item of a collection (under `subPrefix`), one backend page in memory at a time. */
export async function eachPage<T>(
  coll: Collection<T>,
  fn: (items: Stored<T>[]) => Promise<void> | void,
  subPrefix?: string,
): Promise<void> {
  let startAfter: string | undefined;
  do {
    const page = await coll.listPage({ limit: DEFAULT_ADMIN_PAGE, startAfter, subPrefix });
    await fn(page.items);
    startAfter = page.next;
  } while (startAfter !== undefined);
}

export async function findTokenByNameOrMask(svc: AuthService, name: string) {
  const direct = await svc.tokens.get(name);
  if (direct) return { key: name, stored: direct, hash: sha256Hex(name) };
  if (name.startsWith("sha256:")) {
    const prefix = name.slice("sha256:".length);
    // Two are enough to tell a unique prefix from an ambiguous one.
    const matches = await svc.backend.list(`/tokens/${prefix}`, { limit: 2 });
    if (matches.length === 1) {
      const hash = matches[0]!.key.slice("/tokens/".length);
      const stored = await svc.tokens.getBySuffix(hash);
      if (stored) return { key: null, stored, hash };
    }
  }
  return null;
}

/**
 * The effective registration secret of an unbound bound-keypair token (reference §5.1): the
 * spec's, or one generated here (32 random bytes, hex) when neither a secret nor an initial
 * public key is given. Readable by admins in status.bound_keypair.registration_secret.
 */
function withRegistrationSecret(t: TokenResource): TokenResource["status"] {
  const status = { ...t.status, bound_keypair: { ...t.status?.bound_keypair } };
  const bk = status.bound_keypair;
  const onboarding = t.spec.bound_keypair?.onboarding ?? {};
  if (bk.bound_public_key || onboarding.initial_public_key) {
    delete bk.registration_secret;
    return status;
  }
  if (onboarding.registration_secret) bk.registration_secret = onboarding.registration_secret;
  else bk.registration_secret ||= randomBytes(32).toString("hex");
  return status;
}

/** An admin set a new initial key or registration secret: the old binding no longer holds (§5.8). */
function onboardingChanged(before: TokenResource, after: TokenResource): boolean {
  const a = before.spec.bound_keypair?.onboarding ?? {};
  const b = after.spec.bound_keypair?.onboarding ?? {};
  const set = (x?: string) => x ?? "";
  return (
    (set(b.initial_public_key) !== "" && set(a.initial_public_key) !== set(b.initial_public_key)) ||
    (set(b.registration_secret) !== "" && set(a.registration_secret) !== set(b.registration_secret))
  );
}

/** The status with the binding removed; counters and timestamps are kept for the audit trail. */
function unbound(t: TokenResource): TokenResource["status"] {
  const bk = { ...t.status?.bound_keypair };
  delete bk.bound_public_key;
  delete bk.bound_bot_instance_id;
  delete bk.registration_secret;
  return { ...t.status, bound_keypair: bk };
}

/** Every ekcert_allowed_cas entry must be a certificate we can verify with (reference §6.1). */
function checkAllowedCas(pems: string[]): void {
  try {
    parseAllowedCas(pems);
  } catch (e) {
    throw badParameter(`spec.tpm.ekcert_allowed_cas: ${(e as Error).message}`);
  }
}

async function checkRolesExist(svc: AuthService, roles: string[]): Promise<void> {
  for (const r of roles)
    if (!(await svc.roles.get(r)))
      throw badParameter(`role "${r}" does not exist; create it first with tctl create`);
}

/** One resource ready to store: its write (conditional on what was read) and how it is shown. */
interface PreparedWrite {
  op: AtomicOp;
  existed: boolean;
  kind: string;
  shown: string;
}

/** Unless the key holds exactly what was read (or still nothing), the write does not happen. */
const asRead = (cur: Stored<unknown> | null): Condition =>
  cur ? { kind: "revision", revision: cur.revision } : { kind: "absent" };

/**
 * Reads what `r` replaces and builds its write; writes nothing. `rolesWritten` are the roles the
 * same request stores, which a bot in it may name before they exist.
 */
async function prepareResource(
  svc: AuthService,
  r: Resource,
  upsert: boolean,
  rolesWritten: Set<string>,
): Promise<PreparedWrite> {
  const name = r.metadata.name;
  const refuseExisting = (what: string) => {
    if (!upsert) throw alreadyExists(`${what} already exists; use "tctl create -f" to overwrite it`);
  };
  const done = (op: AtomicOp, existed: boolean, shown = name): PreparedWrite => ({
    op,
    existed,
    kind: r.kind,
    shown,
  });
  switch (r.kind) {
    case "bot": {
      validateBot(r);
      await checkRolesExist(
        svc,
        (r.spec.roles ?? []).filter((x) => !rolesWritten.has(x)),
      );
      const bot: BotResource = {
        ...r,
        status: { user_name: botUserName(name), role_name: botRoleName(name) },
      };
      const cur = await svc.bots.get(name);
      if (cur) refuseExisting(`bot "${name}"`);
      return done(svc.bots.putOp(name, bot, asRead(cur)), !!cur);
    }
    case "role": {
      validateRole(r);
      const cur = await svc.roles.get(name);
      if (cur) refuseExisting(`role "${name}"`);
      return done(svc.roles.putOp(name, r as RoleResource, asRead(cur)), !!cur);
    }
    case "token": {
      validateToken(r);
      if (r.spec.tpm?.ekcert_allowed_cas?.length) checkAllowedCas(r.spec.tpm.ekcert_allowed_cas);
      const cur = await svc.tokens.get(name);
      const existed = !!cur && !cur.value.consumed_at;
      const shown = isSecretToken(r) ? maskSecret(sha256Hex(name)) : name;
      if (existed) refuseExisting(`token "${isSecretToken(r) ? "(secret)" : name}"`);
      // Status is written only by the server: keep what it had, ignore what the file says. The
      // write is conditional on the status read here, so a join that changes it meanwhile (a
      // recovery, a rotation) is never overwritten: the request is prepared again instead.
      const token: TokenResource = { ...r };
      delete token.status;
      if (cur?.value.token.status) token.status = cur.value.token.status;
      if (token.spec.join_method === "bound_keypair") {
        if (cur && onboardingChanged(cur.value.token, token)) token.status = unbound(token);
        token.status = withRegistrationSecret(token);
      }
      const expires = token.metadata.expires ? new Date(token.metadata.expires) : undefined;
      // Keep expired tokens a while so a late join gets "expired", not "not found".
      const keepUntil = expires ? new Date(expires.getTime() + 3600_000) : undefined;
      return done(svc.tokens.putOp(name, { token }, asRead(cur), keepUntil), existed, shown);
    }
    case "app":
    case "db":
    case "workload_identity": {
      // Read as a file would be (rules and defaults) in resourceFromJSON before it gets here.
      const coll: Collection<Resource> = (
        r.kind === "app" ? svc.apps : r.kind === "db" ? svc.databases : svc.workloadIdentities
      ) as Collection<Resource>;
      const cur = await coll.get(name);
      if (cur) refuseExisting(`${r.kind} "${name}"`);
      return done(coll.putOp(name, r, asRead(cur)), !!cur);
    }
    default:
      throw badParameter(`unsupported resource kind "${(r as { kind: string }).kind}"`);
  }
}

/** Attempts at one group before giving up on writers that keep changing what it replaces. */
const CREATE_ATTEMPTS = 5;

/**
 * Stores resources all or none: each group of up to MAX_ATOMIC_OPS (a whole file, in practice)
 * is one conditional atomic write, so a refusal or a crash stores none of the group and a
 * concurrent change to anything it replaces makes it read and build again rather than
 * overwrite. Returns each resource's kind and shown name, in order.
 */
export async function putResources(
  svc: AuthService,
  resources: Resource[],
  upsert: boolean,
  who: string,
): Promise<{ kind: string; shown: string }[]> {
  const seen = new Set<string>();
  for (const r of resources) {
    const id = `${r.kind}/${r.metadata.name}`;
    if (seen.has(id))
      throw badParameter(
        `${r.kind} "${r.kind === "token" && isSecretToken(r as TokenResource) ? "(secret)" : r.metadata.name}" appears twice; give each resource once`,
      );
    seen.add(id);
  }
  const out: { kind: string; shown: string }[] = [];
  for (let i = 0; i < resources.length; i += MAX_ATOMIC_OPS) {
    const group = resources.slice(i, i + MAX_ATOMIC_OPS);
    const roles = new Set(group.filter((r) => r.kind === "role").map((r) => r.metadata.name));
    for (let attempt = 1; ; attempt++) {
      const prepared: PreparedWrite[] = [];
      for (const r of group) prepared.push(await prepareResource(svc, r, upsert, roles));
      try {
        await svc.backend.atomic(prepared.map((p) => p.op));
      } catch (e) {
        if (!isCode(e, "compare_failed")) throw e;
        if (attempt < CREATE_ATTEMPTS) continue;
        throw new UserError(
          "the resources changed while this request stored them, again and again; nothing was stored, try again",
          "compare_failed",
        );
      }
      for (const p of prepared) {
        svc.audit.emit(p.existed ? "resource.update" : "resource.create", {
          kind: p.kind,
          name: p.shown,
          by: who,
        });
        out.push({ kind: p.kind, shown: p.shown });
      }
      break;
    }
  }
  return out;
}

/** One resource (tctl bots add, tokens add): putResources of one. Returns its shown name. */
export async function putResource(
  svc: AuthService,
  r: Resource,
  upsert: boolean,
  who: string,
): Promise<string> {
  return (await putResources(svc, [r], upsert, who))[0]!.shown;
}

export async function deleteResource(
  svc: AuthService,
  kind: string,
  name: string,
  who: string,
): Promise<void> {
  switch (kind) {
    case "bot":
      await svc.bots.delete(name).catch(rethrowNotFound("bot", name));
      await eachPage(
        svc.instances,
        async (page) => {
          for (const i of page) await forgetInstance(svc, name, i.value.spec.instance_id);
        },
        `${name}/`,
      );
      break;
    case "role":
      await svc.roles.delete(name).catch(rethrowNotFound("role", name));
      break;
    case "token": {
      const f = await findTokenByNameOrMask(svc, name);
      if (!f) throw notFound(`token "${name}" not found`);
      await svc.backend.delete(`/tokens/${f.hash}`);
      break;
    }
    case "lock":
      await svc.locks.delete(name).catch(rethrowNotFound("lock", name));
      svc.audit.emit("lock.delete", { lock: name, by: who });
      return;
    case "node":
      await svc.nodes.delete(name).catch(rethrowNotFound("node", name));
      break;
    case "app":
      await svc.apps.delete(name).catch(rethrowNotFound("app", name));
      break;
    case "db":
    case "database":
      await svc.databases.delete(name).catch(rethrowNotFound("db", name));
      break;
    case "workload_identity":
      await svc.workloadIdentities.delete(name).catch(rethrowNotFound("workload_identity", name));
      break;
    case "bot_instance": {
      const inst = await findInstance(svc, name);
      if (!inst) throw notFound(`bot_instance "${name}" not found`);
      await forgetInstance(svc, inst.spec.bot_name, inst.spec.instance_id);
      break;
    }
    case "admin_identity":
      throw badParameter(`admin identities are revoked with "tctl lock --admin ${name}"`);
    default:
      throw badParameter(`unsupported resource kind "${kind}"`);
  }
  const shown = kind === "token" ? "(token)" : name;
  svc.audit.emit("resource.delete", { kind, name: shown, by: who });
}

/** "BOT/ID" is one key; a bare ID is looked for a page at a time (instances are keyed by bot). */
async function findInstance(svc: AuthService, ref: string): Promise<BotInstance | null> {
  if (ref.includes("/")) return (await svc.instances.get(ref))?.value ?? null;
  let found: BotInstance | null = null;
  let startAfter: string | undefined;
  do {
    const page = await svc.instances.listPage({ limit: DEFAULT_ADMIN_PAGE, startAfter });
    found = page.items.find((i) => i.value.spec.instance_id === ref)?.value ?? null;
    startAfter = page.next;
  } while (!found && startAfter !== undefined);
  return found;
}

function rethrowNotFound(kind: string, name: string) {
  return (e: unknown) => {
    if (isCode(e, "not_found")) throw notFound(`${kind} "${name}" not found`);
    throw e;
  };
}
