// Certificates a bot asks for with its internal identity: impersonated output certificates
// (non-renewable, disallow-reissue, §7.2) and SSH host certificates. A call with the newest
// internal certificate also marks it in use (src/auth/instances.ts: notePresented).

import type { TlsIdentity } from "../crypto/tls-identity.ts";
import type { Certificates, HostCertsRequest, UserCertsRequest } from "../protocol/messages.ts";
import { accessDenied, badParameter } from "../util/errors.ts";
import { botRoleName, botUserName, maxTtlOf, requireBot, traitsOf } from "./bot-identity.ts";
import { notePresented } from "./instances.ts";
import type { BotResource, RoleResource } from "./resources/index.ts";
import { expandLogins } from "./resources/index.ts";
import type { AuthService } from "./service.ts";

export async function rolesNamed(svc: AuthService, names: string[]): Promise<RoleResource[]> {
  const out: RoleResource[] = [];
  for (const n of names) {
    const r = await svc.roles.get(n);
    if (!r) throw badParameter(`role "${n}" does not exist; create it with tctl create`);
    out.push(r.value);
  }
  return out;
}

/** The internal identity (not an impersonated one) of a bot: may request output certificates. */
export function assertInternalIdentity(caller: TlsIdentity): void {
  if (caller.disallowReissue || !caller.roles.includes(botRoleName(caller.botName ?? "")))
    throw accessDenied(
      "output certificates cannot be used to request further certificates (disallow-reissue)",
    );
}

/** Impersonated, non-renewable certificates for outputs (§7.2). */
export async function issueOutputCerts(
  svc: AuthService,
  caller: TlsIdentity,
  req: UserCertsRequest,
): Promise<Certificates> {
  const bot = await requireBot(svc, caller);
  assertInternalIdentity(caller);
  await notePresented(svc, caller);
  const allowed = bot.spec.roles ?? [];
  const requested = req.role_requests?.length ? req.role_requests : allowed;
  for (const r of requested)
    if (!allowed.includes(r))
      throw accessDenied(`bot "${bot.metadata.name}" may not impersonate role "${r}"`);
  // A roleless bot is legal (it joins and renews); only an output needs a role, so say how to add one.
  if (!requested.length)
    throw accessDenied(
      `bot "${bot.metadata.name}" has no roles to impersonate; add one with: tctl bots update ${bot.metadata.name} --add-roles=<role>`,
    );
  const roles = await rolesNamed(svc, requested);
  const logins = expandLogins(roles, traitsOf(bot));
  const certs = await svc.issuer.issueIdentity({
    username: botUserName(bot.metadata.name),
    roles: requested,
    publicKeys: req.public_keys,
    requestedExpiry: new Date(req.expires),
    maxTtlMs: maxTtlOf(bot),
    renewable: false,
    generation: 0,
    botName: bot.metadata.name,
    botInstanceId: caller.botInstanceId!,
    disallowReissue: true,
    logins,
  });
  svc.audit.emit("cert.create", {
    bot: bot.metadata.name,
    bot_instance_id: caller.botInstanceId,
    roles: requested,
    logins,
    expires: certs.expires.toISOString(),
  });
  const { expires: _e, ...certificates } = certs;
  return certificates;
}

/** Whether the bot's impersonable roles grant `create` on `host_cert` (the reference's ssh_host guide). */
export async function canCreateHostCerts(svc: AuthService, bot: BotResource): Promise<boolean> {
  const roles = await rolesNamed(svc, bot.spec.roles ?? []);
  return roles.some((r) =>
    ((r.spec.allow as { rules?: { resources?: string[]; verbs?: string[] }[] }).rules ?? []).some(
      (rule) =>
        (rule.resources ?? []).some((x) => x === "host_cert" || x === "*") &&
        (rule.verbs ?? []).some((v) => v === "create" || v === "*"),
    ),
  );
}

export async function issueHostCerts(
  svc: AuthService,
  caller: TlsIdentity,
  req: HostCertsRequest,
): Promise<{ ssh_cert: string; ssh_user_ca_keys: string[] }> {
  const bot = await requireBot(svc, caller);
  assertInternalIdentity(caller);
  await notePresented(svc, caller);
  if (!(await canCreateHostCerts(svc, bot)))
    throw accessDenied(
      `bot "${bot.metadata.name}" may not create host certificates: give it a role with "rules: [{resources: [host_cert], verbs: [create]}]"`,
    );
  if (!req.principals?.length) throw badParameter("principals must not be empty");
  const cert = await svc.issuer.issueHostCert(
    req.ssh_public_key,
    req.principals,
    `${bot.metadata.name}/${caller.botInstanceId}`,
    new Date(req.expires),
  );
  svc.audit.emit("cert.create", {
    bot: bot.metadata.name,
    bot_instance_id: caller.botInstanceId,
    cert_type: "ssh_host",
    principals: req.principals,
  });
  return { ssh_cert: cert, ssh_user_ca_keys: [svc.authorities.user.sshPublic!] };
}
