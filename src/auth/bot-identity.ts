// Bot identities after a join: the instance record, renewal with the generation counter,
// impersonated (output) certificates and SSH host certificates.

import type { TlsIdentity } from "../crypto/tls-identity.ts";
import type { FinishJoinArgs } from "../join/types.ts";
import type {
  Certificates,
  HostCertsRequest,
  JoinResult,
  RenewRequest,
  UserCertsRequest,
} from "../protocol/messages.ts";
import { parseDuration } from "../util/duration.ts";
import { accessDenied, badParameter, isCode } from "../util/errors.ts";
import { DEFAULT_MAX_SESSION_TTL_MS } from "./issuer.ts";
import { createLock } from "./locks.ts";
import type { BotResource, RoleResource } from "./resources/index.ts";
import { expandLogins } from "./resources/index.ts";
import type { AuthService } from "./service.ts";
import { type Authentication, type BotInstance, MAX_AUTHENTICATIONS } from "./store/types.ts";

export const botUserName = (bot: string) => `bot-${bot}`;
export const botRoleName = (bot: string) => `bot-${bot}`;
const instanceKey = (bot: string, id: string) => `${bot}/${id}`;

export function maxTtlOf(bot: BotResource): number {
  const t = bot.spec.max_session_ttl ? parseDuration(bot.spec.max_session_ttl) : DEFAULT_MAX_SESSION_TTL_MS;
  return typeof t === "number" && t > 0 ? t : DEFAULT_MAX_SESSION_TTL_MS;
}

function traitsOf(bot: BotResource): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const t of bot.spec.traits ?? []) out[t.name] = t.values;
  return out;
}

/** The answer to a join or a renewal: the certificates (the issuer's expiry left out) and whom they name. */
function joinResult(
  certs: Certificates & { expires: Date },
  botName: string,
  botInstanceId: string,
  generation: number,
  methodResult?: Record<string, unknown>,
): JoinResult {
  const { expires: _e, ...certificates } = certs;
  return {
    type: "result",
    certificates,
    bot_name: botName,
    bot_instance_id: botInstanceId,
    generation,
    ...(methodResult ? { method_result: methodResult } : {}),
  };
}

/** Instances outlive their last certificate by a grace period, then the backend drops them. */
const INSTANCE_GRACE_MS = 24 * 3600_000;

export async function finishBotJoin(
  svc: AuthService,
  a: FinishJoinArgs,
  remoteAddr: string,
): Promise<JoinResult> {
  const bot = a.bot.metadata.name;
  const auth: Authentication = {
    authenticated_at: new Date().toISOString(),
    join_method: a.joinMethod,
    join_token: a.tokenHint,
    generation: 1,
    public_key: a.publicKeys.tls_public_key,
    remote_addr: remoteAddr,
  };
  let generation = 1;
  if (a.isNewInstance) {
    const inst: BotInstance = {
      kind: "bot_instance",
      version: "v1",
      metadata: { name: a.instanceId },
      spec: { bot_name: bot, instance_id: a.instanceId },
      status: {
        generation: 1,
        initial_authentication: auth,
        latest_authentications: [auth],
        latest_heartbeats: [],
      },
    };
    await svc.instances.create(
      instanceKey(bot, a.instanceId),
      inst,
      new Date(a.expires.getTime() + INSTANCE_GRACE_MS),
    );
  } else {
    try {
      generation = await recordAuthentication(
        svc,
        bot,
        a.instanceId,
        auth,
        a.expires,
        (g) => (a.expectedGeneration === undefined ? g : g + 1),
        a.expectedGeneration,
      );
    } catch (e) {
      if (!(e instanceof GenerationMismatch)) throw e;
      if (a.onGenerationMismatch) await a.onGenerationMismatch();
      throw accessDenied(
        `the refreshing certificate is of generation ${a.expectedGeneration}, not the instance's current ${e.stored}; the bot's identity may have been copied`,
      );
    }
  }
  const certs = await svc.issuer.issueIdentity({
    username: botUserName(bot),
    roles: [botRoleName(bot)],
    publicKeys: a.publicKeys,
    requestedExpiry: a.expires,
    maxTtlMs: maxTtlOf(a.bot),
    renewable: a.renewable,
    generation,
    botName: bot,
    botInstanceId: a.instanceId,
    disallowReissue: false,
    logins: [],
  });
  svc.audit.emit("bot.join", {
    bot,
    bot_instance_id: a.instanceId,
    join_method: a.joinMethod,
    token: a.tokenHint || undefined,
    new_instance: a.isNewInstance,
    remote_addr: remoteAddr,
    expires: certs.expires.toISOString(),
  });
  return joinResult(certs, bot, a.instanceId, generation, a.methodResult);
}

/** Append an authentication to an instance by CAS; `nextGen` maps the stored generation. */
async function recordAuthentication(
  svc: AuthService,
  bot: string,
  id: string,
  auth: Authentication,
  expires: Date,
  nextGen: (g: number) => number,
  expectedGeneration?: number,
): Promise<number> {
  for (;;) {
    const cur = await svc.instances.get(instanceKey(bot, id));
    if (!cur)
      throw accessDenied(`bot instance ${id} no longer exists; the bot must join again with a new token`);
    if (expectedGeneration !== undefined && cur.value.status.generation !== expectedGeneration)
      throw new GenerationMismatch(cur.value.status.generation);
    const generation = nextGen(cur.value.status.generation);
    const next: BotInstance = structuredClone(cur.value);
    next.status.generation = generation;
    next.status.latest_authentications = [
      ...next.status.latest_authentications,
      { ...auth, generation },
    ].slice(-MAX_AUTHENTICATIONS);
    try {
      await svc.instances.compareAndSwap(
        instanceKey(bot, id),
        cur.revision,
        next,
        new Date(expires.getTime() + INSTANCE_GRACE_MS),
      );
      return generation;
    } catch (e) {
      // Someone else changed the instance in between. With an expected generation this is a
      // second holder renewing the same certificate: re-read, and the check above catches it.
      if (!isCode(e, "compare_failed")) throw e;
    }
  }
}

class GenerationMismatch extends Error {
  constructor(readonly stored: number) {
    super("generation mismatch");
  }
}

async function requireBot(svc: AuthService, caller: TlsIdentity): Promise<BotResource> {
  if (!caller.botName || !caller.botInstanceId) throw accessDenied("this call needs a bot identity");
  const bot = await svc.bots.get(caller.botName);
  if (!bot) throw accessDenied(`bot "${caller.botName}" no longer exists`);
  return bot.value;
}

/** Renewal of a renewable (token-joined) identity, guarded by the generation counter (§4.2, §7.6). */
export async function renewBotIdentity(
  svc: AuthService,
  caller: TlsIdentity,
  req: RenewRequest,
  remoteAddr: string,
): Promise<JoinResult> {
  const bot = await requireBot(svc, caller);
  if (!caller.renewable)
    throw accessDenied(
      "this identity is not renewable; bots joined with other methods renew by joining again",
    );
  const expires = new Date(req.expires);
  const auth: Authentication = {
    authenticated_at: new Date().toISOString(),
    join_method: "token",
    join_token: "",
    generation: 0,
    public_key: req.public_keys.tls_public_key,
    remote_addr: remoteAddr,
  };
  let generation: number;
  try {
    generation = await recordAuthentication(
      svc,
      caller.botName!,
      caller.botInstanceId!,
      auth,
      expires,
      (g) => g + 1,
      caller.generation,
    );
  } catch (e) {
    if (!(e instanceof GenerationMismatch)) throw e;
    const msg = `renewable certificate generation mismatch: presented ${caller.generation}, expected ${e.stored}; the bot's identity may have been copied`;
    await createLock(svc, { bot_instance_id: caller.botInstanceId! }, msg, "tauth");
    svc.audit.emit("renewable_certificate_generation_mismatch", {
      bot: caller.botName,
      bot_instance_id: caller.botInstanceId,
      presented_generation: caller.generation,
      expected_generation: e.stored,
      remote_addr: remoteAddr,
    });
    throw accessDenied(
      `${msg}. Bot instance ${caller.botInstanceId} is now locked; rejoin with a new token (tctl bots instances add ${caller.botName})`,
    );
  }
  const certs = await svc.issuer.issueIdentity({
    username: botUserName(caller.botName!),
    roles: [botRoleName(caller.botName!)],
    publicKeys: req.public_keys,
    requestedExpiry: expires,
    maxTtlMs: maxTtlOf(bot),
    renewable: true,
    generation,
    botName: caller.botName!,
    botInstanceId: caller.botInstanceId!,
    disallowReissue: false,
    logins: [],
  });
  svc.audit.emit("cert.renew", {
    bot: caller.botName,
    bot_instance_id: caller.botInstanceId,
    generation,
    expires: certs.expires.toISOString(),
  });
  return joinResult(certs, caller.botName!, caller.botInstanceId!, generation);
}

async function rolesNamed(svc: AuthService, names: string[]): Promise<RoleResource[]> {
  const out: RoleResource[] = [];
  for (const n of names) {
    const r = await svc.roles.get(n);
    if (!r) throw badParameter(`role "${n}" does not exist; create it with tctl create`);
    out.push(r.value);
  }
  return out;
}

/** The internal identity (not an impersonated one) of a bot: may request output certificates. */
function assertInternalIdentity(caller: TlsIdentity): void {
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
  const allowed = bot.spec.roles ?? [];
  const requested = req.role_requests?.length ? req.role_requests : allowed;
  for (const r of requested)
    if (!allowed.includes(r))
      throw accessDenied(`bot "${bot.metadata.name}" may not impersonate role "${r}"`);
  if (!requested.length) throw accessDenied(`bot "${bot.metadata.name}" has no roles to impersonate`);
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

export { instanceKey, requireBot, rolesNamed, traitsOf };
