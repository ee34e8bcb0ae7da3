// Admin routes for tctl (mTLS with the admin identity): resources, bots, tokens, locks,
// nodes, CA export, status. Thin: validation lives with the resources, rules in the service.

import { randomBytes } from "node:crypto";
import { certAuthorityLine } from "../../crypto/identity-file.ts";
import { maskSecret } from "../../join/types.ts";
import { parseAllowedCas } from "../../tpm/server/index.ts";
import { formatDuration, parseDuration } from "../../util/duration.ts";
import { alreadyExists, badParameter, isCode, notFound } from "../../util/errors.ts";
import { VERSION } from "../../version.ts";
import { botRoleName, botUserName } from "../bot-identity.ts";
import type { Route } from "../http/router.ts";
import { createLock } from "../locks.ts";
import type { BotResource, Resource, RoleResource, TokenResource } from "../resources/index.ts";
import { validateBot, validateRole, validateToken } from "../resources/index.ts";
import type { AuthService, StoredToken } from "../service.ts";
import { sha256Hex } from "../store/collection.ts";

const DEFAULT_TOKEN_TTL_MS = 3600_000;

/** The name tctl shows for a token: the name itself, or a mask for secret (token-method) names. */
export function displayToken(t: StoredToken, hash: string): TokenResource {
  const out = structuredClone(t.token);
  if ((out.spec.join_method || "token") === "token") out.metadata.name = maskSecret(hash);
  return out;
}

const isSecretToken = (t: TokenResource) => (t.spec.join_method || "token") === "token";

async function findTokenByNameOrMask(svc: AuthService, name: string) {
  const direct = await svc.tokens.get(name);
  if (direct) return { key: name, stored: direct, hash: sha256Hex(name) };
  if (name.startsWith("sha256:")) {
    const prefix = name.slice("sha256:".length);
    const matches = await svc.backend.list(`/tokens/${prefix}`);
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

async function putResource(svc: AuthService, r: Resource, upsert: boolean, who: string): Promise<string> {
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
    default:
      throw badParameter(`unsupported resource kind "${(r as { kind: string }).kind}"`);
  }
  const shown = r.kind === "token" && isSecretToken(r) ? maskSecret(sha256Hex(name)) : name;
  svc.audit.emit(existed ? "resource.update" : "resource.create", { kind: r.kind, name: shown, by: who });
  return shown;
}

async function getResources(svc: AuthService, kind: string, name?: string): Promise<object[]> {
  const one = async <T>(v: { value: T } | null, what: string) => {
    if (!v) throw notFound(`${what} "${name}" not found`);
    return [v.value as object];
  };
  switch (kind) {
    case "bot":
    case "bots":
      return name ? one(await svc.bots.get(name), "bot") : (await svc.bots.list()).map((x) => x.value);
    case "role":
    case "roles":
      return name ? one(await svc.roles.get(name), "role") : (await svc.roles.list()).map((x) => x.value);
    case "token":
    case "tokens": {
      if (name) {
        const f = await findTokenByNameOrMask(svc, name);
        if (!f || f.stored.value.consumed_at) throw notFound(`token "${name}" not found`);
        const shown = displayToken(f.stored.value, f.hash);
        if (f.key) shown.metadata.name = name; // the caller already knows the name
        return [shown];
      }
      const all = await svc.backend.list("/tokens/");
      const out: object[] = [];
      for (const it of all) {
        const st = JSON.parse(it.value) as StoredToken;
        if (!st.consumed_at) out.push(displayToken(st, it.key.slice("/tokens/".length)));
      }
      return out;
    }
    case "bot_instance":
    case "bot_instances": {
      const all = (await svc.instances.list()).map((x) => x.value);
      return name ? all.filter((i) => i.spec.instance_id === name || i.spec.bot_name === name) : all;
    }
    case "lock":
    case "locks":
      return name ? one(await svc.locks.get(name), "lock") : (await svc.locks.list()).map((x) => x.value);
    case "node":
    case "nodes":
      return name ? one(await svc.nodes.get(name), "node") : (await svc.nodes.list()).map((x) => x.value);
    default:
      throw badParameter(
        `unsupported resource kind "${kind}" (supported: bot, role, token, bot_instance, lock, node)`,
      );
  }
}

async function deleteResource(svc: AuthService, kind: string, name: string, who: string): Promise<void> {
  switch (kind) {
    case "bot":
      await svc.bots.delete(name).catch(rethrowNotFound("bot", name));
      for (const i of await svc.instances.list(`${name}/`))
        await svc.instances.delete(`${name}/${i.value.spec.instance_id}`);
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
    case "bot_instance": {
      const inst = (await svc.instances.list()).find((i) => i.value.spec.instance_id === name);
      if (!inst) throw notFound(`bot_instance "${name}" not found`);
      await svc.instances.delete(`${inst.value.spec.bot_name}/${name}`);
      break;
    }
    default:
      throw badParameter(`unsupported resource kind "${kind}"`);
  }
  const shown = kind === "token" ? "(token)" : name;
  svc.audit.emit("resource.delete", { kind, name: shown, by: who });
}

function rethrowNotFound(kind: string, name: string) {
  return (e: unknown) => {
    if (isCode(e, "not_found")) throw notFound(`${kind} "${name}" not found`);
    throw e;
  };
}

function ttlMs(text: string | undefined, dflt: number): number {
  if (!text) return dflt;
  const v = parseDuration(text);
  if (typeof v === "string") throw badParameter(`--ttl: ${v}`);
  if (v <= 0) throw badParameter("--ttl must be positive");
  return v;
}

/** A single-use bot join token of the `token` method. Its name is the secret. */
async function addBotToken(svc: AuthService, bot: string, ttl: string | undefined, who: string) {
  const name = randomBytes(16).toString("hex");
  const lifetime = ttlMs(ttl, DEFAULT_TOKEN_TTL_MS);
  const expires = new Date(Date.now() + lifetime);
  const token: TokenResource = {
    kind: "token",
    version: "v2",
    metadata: { name, expires: expires.toISOString() },
    spec: { roles: ["Bot"], join_method: "token", bot_name: bot },
  };
  await svc.tokens.create(name, { token }, new Date(expires.getTime() + 3600_000));
  svc.audit.emit("join_token.create", {
    bot,
    token: maskSecret(sha256Hex(name)),
    expires: expires.toISOString(),
    by: who,
  });
  return {
    token_name: name,
    token_ttl: formatDuration(lifetime),
    expires: expires.toISOString(),
  };
}

/**
 * A bound-keypair token for a new bot: its name is not secret; a registration secret is
 * generated (one recovery allowed: the first join), as the reference's v19 tctl does.
 */
async function addBoundKeypairToken(svc: AuthService, bot: string, who: string) {
  const name = `${bot}-${randomBytes(4).toString("hex")}`;
  const token: TokenResource = {
    kind: "token",
    version: "v2",
    metadata: { name },
    spec: {
      roles: ["Bot"],
      join_method: "bound_keypair",
      bot_name: bot,
      bound_keypair: { onboarding: {}, recovery: { mode: "standard", limit: 1 } },
    },
  };
  await putResource(svc, token, false, who);
  const secret = (await svc.tokens.get(name))!.value.token.status!.bound_keypair!.registration_secret!;
  return { token_name: name, registration_secret: secret };
}

interface Body {
  [k: string]: unknown;
}
const str = (b: Body, k: string): string | undefined =>
  typeof b[k] === "string" ? (b[k] as string) : undefined;
const strs = (b: Body, k: string): string[] => (Array.isArray(b[k]) ? (b[k] as unknown[]).map(String) : []);

export function adminRoutes(svc: AuthService): Route[] {
  const r = (path: string, handle: (b: Body, who: string) => Promise<unknown>): Route => ({
    method: "POST",
    path: `/v1/admin/${path}`,
    access: "admin",
    handle: (c) => handle((c.body ?? {}) as Body, c.caller?.username ?? "admin"),
  });
  return [
    r("status", async () => ({
      cluster_name: svc.clusterName,
      server_version: VERSION,
      ca_pins: svc.authorities.caPins(),
    })),
    r("create", async (b, who) => {
      const resources = (b.resources ?? []) as Resource[];
      const names: string[] = [];
      for (const res of resources)
        names.push(`${res.kind} "${await putResource(svc, res, b.upsert === true, who)}"`);
      return { created: names, upsert: b.upsert === true };
    }),
    r("get", async (b) => ({ resources: await getResources(svc, str(b, "kind") ?? "", str(b, "name")) })),
    r("delete", async (b, who) => {
      await deleteResource(svc, str(b, "kind") ?? "", str(b, "name") ?? "", who);
      return { ok: true };
    }),
    r("bots/add", async (b, who) => {
      const name = str(b, "name") ?? "";
      const roles = strs(b, "roles");
      const logins = strs(b, "logins");
      const bot: BotResource = {
        kind: "bot",
        version: "v1",
        metadata: { name },
        spec: { roles, traits: logins.length ? [{ name: "logins", values: logins }] : [] },
      };
      if (str(b, "max_session_ttl")) bot.spec.max_session_ttl = str(b, "max_session_ttl");
      if (await svc.bots.get(name))
        throw alreadyExists(`bot "${name}" already exists; remove it with "tctl bots rm ${name}" first`);
      const method = str(b, "join_method") ?? "token";
      if (method !== "token" && method !== "bound_keypair")
        throw badParameter(`--join-method must be token or bound_keypair, got "${method}"`);
      await putResource(svc, bot, false, who);
      const tok =
        method === "token"
          ? await addBotToken(svc, name, str(b, "ttl"), who)
          : await addBoundKeypairToken(svc, name, who);
      return {
        bot: (await svc.bots.get(name))!.value,
        ...tok,
        ca_pins: svc.authorities.caPins(),
        join_method: method,
      };
    }),
    r("bound-keypair/rotate", async (b, who) => {
      const name = str(b, "token") ?? "";
      for (;;) {
        const cur = await svc.tokens.get(name);
        if (!cur || cur.value.token.spec.join_method !== "bound_keypair")
          throw notFound(`bound_keypair token "${name}" not found`);
        const token = structuredClone(cur.value.token);
        const at = new Date().toISOString();
        token.spec.bound_keypair = { ...token.spec.bound_keypair!, rotate_after: at };
        try {
          await svc.tokens.compareAndSwap(name, cur.revision, { ...cur.value, token }, cur.expires);
          svc.audit.emit("resource.update", { kind: "token", name, rotate_after: at, by: who });
          return { token: name, rotate_after: at };
        } catch (e) {
          if (!isCode(e, "compare_failed")) throw e;
        }
      }
    }),
    r("bots/rm", async (b, who) => {
      await deleteResource(svc, "bot", str(b, "name") ?? "", who);
      return { ok: true };
    }),
    r("bots/instances/add", async (b, who) => {
      const bot = str(b, "bot") ?? "";
      if (!(await svc.bots.get(bot))) throw notFound(`bot "${bot}" not found`);
      return { ...(await addBotToken(svc, bot, str(b, "ttl"), who)), ca_pins: svc.authorities.caPins() };
    }),
    r("tokens/add", async (b, who) => {
      const type = str(b, "type") ?? "bot";
      if (type.toLowerCase() !== "bot")
        throw badParameter(`token type "${type}" is not supported here; only --type=bot`);
      const bot = str(b, "bot_name") ?? "";
      if (!bot) throw badParameter("--bot-name is required for bot tokens");
      if (!(await svc.bots.get(bot)))
        throw notFound(`bot "${bot}" not found; create it first with tctl bots add`);
      return { ...(await addBotToken(svc, bot, str(b, "ttl"), who)), ca_pins: svc.authorities.caPins() };
    }),
    r("locks/create", async (b, who) => {
      const bot = str(b, "bot");
      const inst = str(b, "bot_instance_id");
      if (!bot && !inst) throw badParameter("a lock needs a target: --bot NAME or --bot-instance ID");
      const target = bot ? { bot } : { bot_instance_id: inst! };
      return createLock(svc, target, str(b, "message") || "locked by an administrator", who);
    }),
    r("authorities/export", async (b) => {
      const type = str(b, "type") ?? "";
      const a = svc.authorities;
      const c = svc.clusterName;
      switch (type) {
        case "user":
          return { text: `${a.user.sshPublic}\n` };
        case "host":
          return { text: `${certAuthorityLine([c, `*.${c}`], a.host.sshPublic!)}\n` };
        case "tls-host":
          return { text: a.host.tlsCert };
        case "tls-user":
          return { text: a.user.tlsCert };
        case "db":
        case "tls-db":
          return { text: a.db.tlsCert };
        default:
          throw badParameter(`unknown --type "${type}" (expected user, host, tls-host, tls-user or db)`);
      }
    }),
  ];
}
