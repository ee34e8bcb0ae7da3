// Admin routes for tctl (mTLS with the admin identity): resources, bots, tokens, locks,
// nodes, the audit log, CA export, status. Thin: validation lives with the resources, rules in the service.

import { certAuthorityLine } from "../../crypto/identity-file.ts";
import type { TlsIdentity } from "../../crypto/tls-identity.ts";
import { type AdminAuditBody, type AdminGetBody, adminSchemas as S } from "../../protocol/admin-messages.ts";
import type { Schema } from "../../protocol/validate.ts";
import { alreadyExists, badParameter, isCode, notFound } from "../../util/errors.ts";
import { VERSION } from "../../version.ts";
import type { BotUpdateRequest } from "../bot-update.ts";
import type { Route } from "../http/router.ts";
import { createLock, lockTarget } from "../locks.ts";
import type { BotResource, Resource } from "../resources/index.ts";
import { resourceFromJSON } from "../resources/index.ts";
import type { AuthService } from "../service.ts";
import { auditPage } from "./admin-audit.ts";
import { botsUpdate, botsUpdateSchema } from "./admin-bots.ts";
import { getResources } from "./admin-list.ts";
import { deleteResource, putResource, putResources } from "./admin-resources.ts";
import { type SignBody, signServerCert } from "./admin-sign.ts";
import { addBotToken, addBoundKeypairToken } from "./admin-tokens.ts";

interface Body {
  [k: string]: unknown;
}
const str = (b: Body, k: string): string | undefined =>
  typeof b[k] === "string" ? (b[k] as string) : undefined;
const strs = (b: Body, k: string): string[] => (Array.isArray(b[k]) ? (b[k] as unknown[]).map(String) : []);

const adminName = (caller?: TlsIdentity) =>
  caller?.adminIdentityId ? `admin:${caller.adminIdentityId}` : (caller?.username ?? "admin");

export function adminRoutes(svc: AuthService): Route[] {
  // Each operation's body schema (src/protocol/admin-messages.ts) and cap: 16 KiB, except
  // create (resources from files): 1 MiB.
  const r = (
    path: string,
    body: Schema<object>,
    handle: (b: Body, who: string, caller?: TlsIdentity) => Promise<unknown>,
    maxBody = 16 << 10,
  ): Route => ({
    method: "POST",
    path: `/v1/admin/${path}`,
    access: "admin",
    body,
    maxBody,
    // "admin:<ID>" in the audit log: which admin identity did it. The answer waits for the
    // request's audit events to be in the shared log, so any replica shows them next.
    handle: async (c) => {
      try {
        return await handle((c.body ?? {}) as Body, adminName(c.caller), c.caller);
      } finally {
        await svc.audit.flush?.();
      }
    },
  });
  return [
    r("status", S.status, async () => ({
      cluster_name: svc.clusterName,
      server_version: VERSION,
      ca_pins: svc.authorities.caPins(),
    })),
    r(
      "create",
      S.create,
      async (b, who) => {
        // Every resource is read as a file would be (rules and defaults) before any is stored:
        // one bad resource in a request stores none, and nothing half-formed reaches the store.
        const resources: Resource[] = ((b.resources ?? []) as unknown[]).map((v) => resourceFromJSON(v));
        // All or none (per 64 resources): see putResources.
        const stored = await putResources(svc, resources, b.upsert === true, who);
        return { created: stored.map((x) => `${x.kind} "${x.shown}"`), upsert: b.upsert === true };
      },
      1 << 20,
    ),
    r("get", S.get, (b) => getResources(svc, { ...(b as AdminGetBody), kind: str(b, "kind") ?? "" })),
    r("audit", S.audit, (b) => auditPage(svc, b as AdminAuditBody)),
    r("delete", S.delete, async (b, who) => {
      await deleteResource(svc, str(b, "kind") ?? "", str(b, "name") ?? "", who);
      return { ok: true };
    }),
    r("bots/add", S.botsAdd, async (b, who) => {
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
    r("bound-keypair/rotate", S.rotate, async (b, who) => {
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
    // The body was checked against botsUpdateSchema before the handler runs.
    r("bots/update", botsUpdateSchema, (b, who) => botsUpdate(svc, b as unknown as BotUpdateRequest, who)),
    r("bots/rm", S.botsRm, async (b, who) => {
      await deleteResource(svc, "bot", str(b, "name") ?? "", who);
      return { ok: true };
    }),
    r("bots/instances/add", S.instancesAdd, async (b, who) => {
      const bot = str(b, "bot") ?? "";
      if (!(await svc.bots.get(bot))) throw notFound(`bot "${bot}" not found`);
      return { ...(await addBotToken(svc, bot, str(b, "ttl"), who)), ca_pins: svc.authorities.caPins() };
    }),
    r("tokens/add", S.tokensAdd, async (b, who) => {
      const type = str(b, "type") ?? "bot";
      if (type.toLowerCase() !== "bot")
        throw badParameter(`token type "${type}" is not supported here; only --type=bot`);
      const bot = str(b, "bot_name") ?? "";
      if (!bot) throw badParameter("--bot-name is required for bot tokens");
      if (!(await svc.bots.get(bot)))
        throw notFound(`bot "${bot}" not found; create it first with tctl bots add`);
      return { ...(await addBotToken(svc, bot, str(b, "ttl"), who)), ca_pins: svc.authorities.caPins() };
    }),
    r("locks/create", S.locksCreate, async (b, who, caller) => {
      const target = await lockTarget(
        svc,
        str(b, "bot"),
        str(b, "bot_instance_id"),
        str(b, "admin_identity"),
        caller,
      );
      return createLock(svc, target, str(b, "message") || "locked by an administrator", who);
    }),
    r("authorities/export", S.authoritiesExport, async (b) => {
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
        // db: signs database servers' certificates (clients' sslrootcert);
        // db-client: signs database clients' certificates (the database's ssl_ca_file).
        case "db":
        case "tls-db":
          return { text: a.db.tlsCert };
        case "db-client":
        case "tls-db-client":
          return { text: a.dbClient.tlsCert };
        // app: signs application client certificates (nginx ssl_client_certificate).
        case "app":
        case "tls-app":
          return { text: a.app.tlsCert };
        // spiffe: the trust domain's X.509 bundle (PEM), what verifies X509-SVIDs.
        case "spiffe":
        case "tls-spiffe":
          return { text: a.spiffe.tlsCert };
        default:
          throw badParameter(
            `unknown --type "${type}" (expected user, host, tls-host, tls-user, db, db-client, app or spiffe)`,
          );
      }
    }),
    r("authorities/sign", S.authoritiesSign, (b, who) => signServerCert(svc, b as SignBody, who)),
  ];
}
