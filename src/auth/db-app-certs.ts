// Database and application client certificates for a bot's `database` and `application`
// outputs (reference §1.6, §7.2 RouteToDatabase / RouteToApp), asked for with the bot's
// internal identity like every output certificate. The bot's impersonable roles decide
// (db-app-access.ts); a refusal is one line naming what is allowed. Certificates are
// non-renewable and capped like other output certificates.
//
// Database: subject CN = the database user (PostgreSQL `cert` auth maps CN to the user),
// OU = the db resource, issued by the db_client CA that databases trust (ssl_ca_file).
// Application: CN = bot-<name>, O = the bot's roles, OU = the app, issued by the app CA that
// the HTTPS service trusts. Subjects hold standard attributes only: PostgreSQL refuses a client
// certificate whose subject has an attribute OpenSSL has no name for ("could not get NID for
// ASN1_OBJECT object"), so the private OIDs of bot identities are left out; the audit event
// (cert.create, with the serial) says which bot and instance a certificate went to.

import type { TlsIdentity } from "../crypto/tls-identity.ts";
import type {
  AppCertsRequest,
  AppCertsResponse,
  DatabaseCertsRequest,
  DatabaseCertsResponse,
} from "../protocol/messages.ts";
import { accessDenied, notFound } from "../util/errors.ts";
import { botUserName, maxTtlOf, requireBot, traitsOf } from "./bot-identity.ts";
import { notePresented } from "./instances.ts";
import { assertInternalIdentity, rolesNamed } from "./output-certs.ts";
import type { BotResource, RoleResource } from "./resources/index.ts";
import { appAccessProblem, databaseAccessProblem } from "./resources/index.ts";
import type { AuthService } from "./service.ts";

/** organizationalUnitName: the db or app a certificate is for (the reference's RouteTo*). */
const OU = "2.5.4.11";

async function botAndRoles(
  svc: AuthService,
  caller: TlsIdentity,
): Promise<{ bot: BotResource; roles: RoleResource[] }> {
  const bot = await requireBot(svc, caller);
  assertInternalIdentity(caller);
  await notePresented(svc, caller);
  const names = bot.spec.roles ?? [];
  if (!names.length)
    throw accessDenied(
      `bot "${bot.metadata.name}" has no roles; add one with: tctl bots update ${bot.metadata.name} --add-roles=<role>`,
    );
  return { bot, roles: await rolesNamed(svc, names) };
}

export async function issueDatabaseCert(
  svc: AuthService,
  caller: TlsIdentity,
  req: DatabaseCertsRequest,
): Promise<DatabaseCertsResponse> {
  const { bot, roles } = await botAndRoles(svc, caller);
  const botName = bot.metadata.name;
  const stored = await svc.databases.get(req.service);
  if (!stored) throw notFound(`db "${req.service}" not found; register it with tctl create (kind: db)`);
  const db = stored.value;
  const problem = databaseAccessProblem(roles, traitsOf(bot), db, {
    username: req.username,
    database: req.database,
  });
  if (problem) {
    svc.audit.emit("cert.create.denied", {
      bot: botName,
      bot_instance_id: caller.botInstanceId,
      cert_type: "db",
      db: req.service,
      db_user: req.username,
      db_name: req.database,
      reason: problem,
    });
    throw accessDenied(`bot "${botName}": ${problem}`);
  }
  const issued = await svc.issuer.issueLeaf({
    ca: svc.authorities.dbClient,
    publicKeyPem: req.tls_public_key,
    commonName: req.username,
    attributes: { [OU]: db.metadata.name },
    usage: "client",
    requestedExpiry: new Date(req.expires),
    maxTtlMs: maxTtlOf(bot),
  });
  svc.audit.emit("cert.create", {
    bot: botName,
    bot_instance_id: caller.botInstanceId,
    cert_type: "db",
    db: db.metadata.name,
    db_user: req.username,
    db_name: req.database,
    serial: issued.serial,
    expires: issued.expires.toISOString(),
  });
  const out: DatabaseCertsResponse = {
    tls_cert: issued.cert,
    tls_ca_certs: [svc.authorities.db.tlsCert],
    client_ca_certs: [svc.authorities.dbClient.tlsCert],
    expires: issued.expires.toISOString(),
    db: { name: db.metadata.name, protocol: db.spec.protocol, uri: db.spec.uri },
    username: req.username,
  };
  if (req.database) out.database = req.database;
  return out;
}

export async function issueAppCert(
  svc: AuthService,
  caller: TlsIdentity,
  req: AppCertsRequest,
): Promise<AppCertsResponse> {
  const { bot, roles } = await botAndRoles(svc, caller);
  const botName = bot.metadata.name;
  const stored = await svc.apps.get(req.app_name);
  if (!stored) throw notFound(`app "${req.app_name}" not found; register it with tctl create (kind: app)`);
  const app = stored.value;
  const problem = appAccessProblem(roles, app);
  if (problem) {
    svc.audit.emit("cert.create.denied", {
      bot: botName,
      bot_instance_id: caller.botInstanceId,
      cert_type: "app",
      app: req.app_name,
      reason: problem,
    });
    throw accessDenied(`bot "${botName}": ${problem}`);
  }
  const issued = await svc.issuer.issueLeaf({
    ca: svc.authorities.app,
    publicKeyPem: req.tls_public_key,
    commonName: botUserName(botName),
    organizations: bot.spec.roles,
    attributes: { [OU]: app.metadata.name },
    usage: "client",
    requestedExpiry: new Date(req.expires),
    maxTtlMs: maxTtlOf(bot),
  });
  svc.audit.emit("cert.create", {
    bot: botName,
    bot_instance_id: caller.botInstanceId,
    cert_type: "app",
    app: app.metadata.name,
    serial: issued.serial,
    expires: issued.expires.toISOString(),
  });
  const out: AppCertsResponse = {
    tls_cert: issued.cert,
    tls_ca_certs: [svc.authorities.app.tlsCert],
    expires: issued.expires.toISOString(),
    app: { name: app.metadata.name, uri: app.spec.uri },
  };
  if (app.spec.public_addr) out.app.public_addr = app.spec.public_addr;
  return out;
}
