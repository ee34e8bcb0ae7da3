// Resources through the admin API: create/upsert (validation, server-only status kept, the
// bound-keypair registration secret), delete; getting them, a page at a time, is admin-list.ts.

import { randomBytes } from "node:crypto";
import { maskSecret } from "../../join/types.ts";
import { DEFAULT_ADMIN_PAGE } from "../../protocol/admin-messages.ts";
import { parseAllowedCas } from "../../tpm/server/index.ts";
import { alreadyExists, badParameter, isCode, notFound } from "../../util/errors.ts";
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

export async function putResource(
  svc: AuthService,
  r: Resource,
  upsert: boolean,
  who: string,
): Promise<string> {
  const name = r.metadata.name;
  let existed = false;
  switch (r.kind) {
    case "bot": {
      validateBot(r);
      await checkRolesExist(svc, r.spec.roles ?? []);
      const bot: BotResource = {
        ...r,
        status: { user_name: botUserName(name), role_name: botRoleName(name) },
      };
      existed = !!(await svc.bots.get(name));
      if (existed && !upsert)
        throw alreadyExists(`bot "${name}" already exists; use "tctl create -f" to overwrite it`);
      await svc.bots.put(name, bot);
      break;
    }
    case "role": {
      validateRole(r);
      existed = !!(await svc.roles.get(name));
      if (existed && !upsert)
        throw alreadyExists(`role "${name}" already exists; use "tctl create -f" to overwrite it`);
      await svc.roles.put(name, r as RoleResource);
      break;
    }
    case "token": {
      validateToken(r);
      if (r.spec.tpm?.ekcert_allowed_cas?.length) checkAllowedCas(r.spec.tpm.ekcert_allowed_cas);
      const cur = await svc.tokens.get(name);
      existed = !!cur && !cur.value.consumed_at;
      if (existed && !upsert)
        throw alreadyExists(
          `token "${isSecretToken(r) ? "(secret)" : name}" already exists; use "tctl create -f" to overwrite it`,
        );
      // Status is written only by the server: keep what it had, ignore what the file says.
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
      await svc.tokens.put(name, { token }, keepUntil);
      break;
    }
    case "app":
    case "db":
    case "workload_identity": {
      // Read as a file would be (rules and defaults) in resourceFromJSON before it gets here.
      const coll: Collection<Resource> = (
        r.kind === "app" ? svc.apps : r.kind === "db" ? svc.databases : svc.workloadIdentities
      ) as Collection<Resource>;
      existed = !!(await coll.get(name));
      if (existed && !upsert)
        throw alreadyExists(`${r.kind} "${name}" already exists; use "tctl create -f" to overwrite it`);
      await coll.put(name, r);
      break;
    }
    default:
      throw badParameter(`unsupported resource kind "${(r as { kind: string }).kind}"`);
  }
  const shown = r.kind === "token" && isSecretToken(r) ? maskSecret(sha256Hex(name)) : name;
  svc.audit.emit(existed ? "resource.update" : "resource.create", { kind: r.kind, name: shown, by: who });
  return shown;
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
