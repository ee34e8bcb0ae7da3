// SPIFFE SVIDs of workload identities (reference §1.6 workload-identity-* services, the
// WorkloadIdentity resource), asked for with a bot's internal identity. For each selected
// `kind: workload_identity`:
//   1. the bot's roles must grant it (workload_identity_labels; deny wins);
//   2. one of its rules.allow must pass over the attributes: join.* (what the bot instance's
//      most recent join proved), workload.* (what the agent attested: unix uid/gid/pid/binary),
//      user.* (the bot: name, bot_name, bot_instance_id, roles, traits, labels);
//   3. its templates render (a missing attribute issues nothing, with the reason);
//   4. the SPIFFE ID is checked against the SPIFFE rules, and the SVID made:
//      X.509: URI SAN = the one SPIFFE ID (+ dns_sans), subject from subject_template or empty,
//      CA:false, keyUsage digitalSignature, EKU serverAuth+clientAuth, signed by the SPIFFE CA;
//      JWT: ES256 with the SPIFFE JWT key (header kid), sub = SPIFFE ID, aud, exp, iat, jti,
//      extra_claims rendered.
// Every issue and refusal is audited (spiffe.svid.issued / spiffe.svid.denied).

import { randomBytes } from "node:crypto";
import { signJwsWebCrypto } from "../crypto/jws.ts";
import { importPublicKeyPem } from "../crypto/keys.ts";
import type { TlsIdentity } from "../crypto/tls-identity.ts";
import { issueCertificate, randomSerialBytes } from "../crypto/x509-leaf.ts";
import type {
  JwtSvid,
  SkippedIdentity,
  WorkloadAttributes,
  WorkloadJwtRequest,
  WorkloadJwtResponse,
  WorkloadSelector,
  WorkloadX509Request,
  WorkloadX509Response,
  X509Svid,
} from "../protocol/messages.ts";
import { parseDuration } from "../util/duration.ts";
import { accessDenied, badParameter, notFound } from "../util/errors.ts";
import { eachPage } from "./api/admin-resources.ts";
import { botUserName, maxTtlOf, requireBot, traitsOf } from "./bot-identity.ts";
import { instanceKey, notePresented } from "./instances.ts";
import { BACKDATE_MS, cappedExpiry } from "./issuer.ts";
import { metricsSink } from "./metrics/observer.ts";
import { assertInternalIdentity, rolesNamed } from "./output-certs.ts";
import type { BotResource, RoleResource, WorkloadIdentityResource } from "./resources/index.ts";
import {
  type Attributes,
  MissingAttributeError,
  renderTemplate,
  rulesProblem,
  spiffePathProblem,
  workloadAttributesRead,
  workloadIdentityAccessProblem,
} from "./resources/index.ts";
import { matchLabels } from "./resources/node-access.ts";
import type { AuthService } from "./service.ts";

const OU = "2.5.4.11";
const DEFAULT_MAX_TTL_MS = 24 * 3600_000;
const DEFAULT_X509_TTL_S = 3600;
const DEFAULT_JWT_TTL_S = 300;

interface Context {
  bot: BotResource;
  roles: RoleResource[];
  attrs: Attributes;
  instanceId: string;
}

async function contextOf(
  svc: AuthService,
  caller: TlsIdentity,
  workload: WorkloadAttributes | undefined,
): Promise<Context> {
  const bot = await requireBot(svc, caller);
  assertInternalIdentity(caller);
  await notePresented(svc, caller);
  const botName = bot.metadata.name;
  const names = bot.spec.roles ?? [];
  if (!names.length)
    throw accessDenied(
      `bot "${botName}" has no roles; add one with: tctl bots update ${botName} --add-roles=<role>`,
    );
  const roles = await rolesNamed(svc, names);
  const inst = await svc.instances.get(instanceKey(botName, caller.botInstanceId!));
  // The most recent join's attributes: renewals record none, and the list keeps the last 10
  // authentications only, so a token-joined bot renewed more often falls back to its first join
  // (its only one); other methods renew by joining again, so one of the last 10 has them.
  const auths = inst?.value.status.latest_authentications ?? [];
  const join =
    [...auths].reverse().find((a) => a.join_attrs)?.join_attrs ??
    inst?.value.status.initial_authentication?.join_attrs ??
    {};
  const attrs: Attributes = {
    user: {
      name: botUserName(botName),
      is_bot: true,
      bot_name: botName,
      bot_instance_id: caller.botInstanceId,
      roles: names,
      traits: traitsOf(bot),
      labels: bot.metadata.labels ?? {},
    },
    join,
    workload: workload ?? {},
  };
  return { bot, roles, attrs, instanceId: caller.botInstanceId! };
}

function checkSelector(sel: WorkloadSelector): void {
  const hasName = sel.name !== undefined;
  const hasLabels = sel.labels !== undefined && Object.keys(sel.labels).length > 0;
  if (hasName === hasLabels) throw badParameter("selector must have exactly one of name or labels");
}

/** The identities a selector names, with the granted ones first and refusals as reasons. */
async function selected(
  svc: AuthService,
  c: Context,
  sel: WorkloadSelector,
  kind: "x509" | "jwt",
): Promise<{ granted: WorkloadIdentityResource[]; skipped: SkippedIdentity[] }> {
  const botName = c.bot.metadata.name;
  if (sel.name !== undefined) {
    const stored = await svc.workloadIdentities.get(sel.name);
    if (!stored)
      throw notFound(
        `workload_identity "${sel.name}" not found; register it with tctl create (kind: workload_identity)`,
      );
    const problem = workloadIdentityAccessProblem(c.roles, stored.value);
    if (problem) {
      denied(svc, c, sel.name, kind, problem);
      throw accessDenied(`bot "${botName}": ${problem}`);
    }
    return { granted: [stored.value], skipped: [] };
  }
  const granted: WorkloadIdentityResource[] = [];
  const skipped: SkippedIdentity[] = [];
  await eachPage(svc.workloadIdentities, (page) => {
    for (const { value: wi } of page) {
      let matches: boolean;
      try {
        matches = matchLabels(sel.labels, wi.metadata.labels ?? {});
      } catch {
        matches = false;
      }
      if (!matches) continue;
      const problem = workloadIdentityAccessProblem(c.roles, wi);
      if (problem) skipped.push({ name: wi.metadata.name, reason: problem });
      else granted.push(wi);
    }
  });
  return { granted, skipped };
}

function denied(svc: AuthService, c: Context, identity: string, kind: string, reason: string): void {
  svc.audit.emit("spiffe.svid.denied", {
    bot: c.bot.metadata.name,
    bot_instance_id: c.instanceId,
    identity,
    kind,
    reason,
  });
}

const whoLacks = (attr: string) =>
  attr.startsWith("workload.")
    ? "which the workload did not provide"
    : attr.startsWith("join.")
      ? "which the bot's most recent join did not provide"
      : "which the bot does not have";

/** The rendered SPIFFE ID and a render function, or the reason nothing may be issued. */
function evaluate(
  svc: AuthService,
  c: Context,
  wi: WorkloadIdentityResource,
): { spiffeId: string; render: (t: string) => string } | { reason: string } {
  const name = wi.metadata.name;
  const rules = rulesProblem(wi, c.attrs);
  if (rules) return { reason: `workload identity "${name}": ${rules}` };
  const render = (t: string) => renderTemplate(t, c.attrs);
  try {
    const path = render(wi.spec.spiffe.id);
    const problem = spiffePathProblem(path);
    if (problem) return { reason: `workload identity "${name}": ${problem}` };
    return { spiffeId: `spiffe://${svc.authorities.trustDomain}${path}`, render };
  } catch (e) {
    if (e instanceof MissingAttributeError)
      return {
        reason: `workload identity "${name}": template ${e.expression} needs attribute ${e.attribute}, ${whoLacks(e.attribute)}`,
      };
    throw e;
  }
}

function ttlCap(spec: string | undefined): number {
  const t = spec ? parseDuration(spec) : DEFAULT_MAX_TTL_MS;
  return typeof t === "number" && t > 0 ? t : DEFAULT_MAX_TTL_MS;
}

/** Runs `issue` for each granted identity; a name selector's failure is an error, a label selector's a skip. */
async function issueEach<T>(
  svc: AuthService,
  c: Context,
  sel: WorkloadSelector,
  kind: "x509" | "jwt",
  issue: (wi: WorkloadIdentityResource, spiffeId: string, render: (t: string) => string) => Promise<T>,
): Promise<{ svids: T[]; skipped: SkippedIdentity[]; read: string[] }> {
  const { granted, skipped } = await selected(svc, c, sel, kind);
  // What the answer depends on of the workload: every granted identity's rules and templates
  // (those the roles refuse are refused whatever the workload).
  const read = [...new Set(granted.flatMap(workloadAttributesRead))].sort();
  const svids: T[] = [];
  for (const wi of granted) {
    const ev = evaluate(svc, c, wi);
    if ("reason" in ev) {
      denied(svc, c, wi.metadata.name, kind, ev.reason);
      if (sel.name !== undefined) throw accessDenied(`bot "${c.bot.metadata.name}": ${ev.reason}`);
      skipped.push({ name: wi.metadata.name, reason: ev.reason });
      continue;
    }
    try {
      svids.push(await issue(wi, ev.spiffeId, ev.render));
    } catch (e) {
      if (!(e instanceof MissingAttributeError)) throw e;
      const reason = `workload identity "${wi.metadata.name}": template ${e.expression} needs attribute ${e.attribute}, ${whoLacks(e.attribute)}`;
      denied(svc, c, wi.metadata.name, kind, reason);
      if (sel.name !== undefined) throw accessDenied(`bot "${c.bot.metadata.name}": ${reason}`);
      skipped.push({ name: wi.metadata.name, reason });
    }
  }
  if (svids.length === 0 && sel.name === undefined) {
    const why = skipped.length
      ? skipped.map((s) => s.reason).join("; ")
      : `no workload_identity has labels matching ${JSON.stringify(sel.labels)}`;
    throw accessDenied(`bot "${c.bot.metadata.name}": no workload identity issued: ${why}`);
  }
  return { svids, skipped, read };
}

export async function issueX509Svids(
  svc: AuthService,
  caller: TlsIdentity,
  req: WorkloadX509Request,
): Promise<WorkloadX509Response> {
  checkSelector(req.selector);
  const publicKey = await importPublicKeyPem(req.public_key).catch(() => {
    throw badParameter("public_key is not a valid PEM public key (ECDSA P-256 or Ed25519 expected)");
  });
  const c = await contextOf(svc, caller, req.workload);
  const ca = svc.authorities.spiffe;
  const now = svc.clock.now();
  const { svids, skipped, read } = await issueEach<X509Svid>(
    svc,
    c,
    req.selector,
    "x509",
    async (wi, spiffeId, render) => {
      const x = wi.spec.spiffe.x509 ?? {};
      const dnsNames = (x.dns_sans ?? []).map(render);
      const st = x.subject_template ?? {};
      const cn = st.common_name ? render(st.common_name) : "";
      const attributes: Record<string, string> = {};
      if (st.organizational_unit) attributes[OU] = render(st.organizational_unit);
      const organizations = st.organization ? [render(st.organization)] : [];
      const cap = Math.min(ttlCap(x.maximum_ttl), maxTtlOf(c.bot));
      const notAfter = cappedExpiry(
        new Date(now + (req.ttl_seconds ?? DEFAULT_X509_TTL_S) * 1000),
        cap,
        now,
        DEFAULT_MAX_TTL_MS,
      );
      const serialBytes = randomSerialBytes();
      const cert = await issueCertificate({
        serial: serialBytes,
        caCertPem: ca.tlsCert,
        caKey: ca.tlsKey,
        publicKey,
        notBefore: new Date(now - BACKDATE_MS),
        notAfter,
        commonName: cn,
        organizations,
        attributes,
        usage: "client+server",
        dnsNames,
        uris: [spiffeId],
        signatureOnly: true,
      });
      const serial = Buffer.from(serialBytes).toString("hex").toUpperCase();
      metricsSink()?.issued("spiffe", "tls");
      svc.audit.emit("spiffe.svid.issued", {
        bot: c.bot.metadata.name,
        bot_instance_id: c.instanceId,
        identity: wi.metadata.name,
        spiffe_id: spiffeId,
        kind: "x509",
        serial,
        expires: notAfter.toISOString(),
      });
      const out: X509Svid = {
        name: wi.metadata.name,
        spiffe_id: spiffeId,
        cert,
        expires: notAfter.toISOString(),
        serial,
      };
      if (wi.spec.spiffe.hint) out.hint = wi.spec.spiffe.hint;
      return out;
    },
  );
  return {
    trust_domain: svc.authorities.trustDomain,
    svids,
    bundle: [ca.tlsCert],
    skipped,
    workload_attributes_read: read,
  };
}

export async function issueJwtSvids(
  svc: AuthService,
  caller: TlsIdentity,
  req: WorkloadJwtRequest,
): Promise<WorkloadJwtResponse> {
  checkSelector(req.selector);
  const c = await contextOf(svc, caller, req.workload);
  const ca = svc.authorities.spiffe;
  const now = svc.clock.now();
  const { svids, skipped, read } = await issueEach<JwtSvid>(
    svc,
    c,
    req.selector,
    "jwt",
    async (wi, spiffeId, render) => {
      const j = wi.spec.spiffe.jwt ?? {};
      const cap = Math.min(ttlCap(j.maximum_ttl), maxTtlOf(c.bot));
      const exp = cappedExpiry(
        new Date(now + (req.ttl_seconds ?? DEFAULT_JWT_TTL_S) * 1000),
        cap,
        now,
        DEFAULT_MAX_TTL_MS,
      );
      const jti = randomBytes(16).toString("hex");
      const claims: Record<string, unknown> = {
        ...(renderClaims(j.extra_claims ?? {}, render) as Record<string, unknown>),
        sub: spiffeId,
        aud: req.audiences.length === 1 ? req.audiences[0] : req.audiences,
        exp: Math.floor(exp.getTime() / 1000),
        iat: Math.floor(now / 1000),
        jti,
      };
      const token = await signJwsWebCrypto(JSON.stringify(claims), ca.jwtKey!, { kid: ca.jwtKid! });
      metricsSink()?.issued("spiffe", "jwt");
      svc.audit.emit("spiffe.svid.issued", {
        bot: c.bot.metadata.name,
        bot_instance_id: c.instanceId,
        identity: wi.metadata.name,
        spiffe_id: spiffeId,
        kind: "jwt",
        jti,
        audiences: req.audiences,
        expires: exp.toISOString(),
      });
      const out: JwtSvid = {
        name: wi.metadata.name,
        spiffe_id: spiffeId,
        token,
        audiences: req.audiences,
        expires: exp.toISOString(),
        jti,
      };
      if (wi.spec.spiffe.hint) out.hint = wi.spec.spiffe.hint;
      return out;
    },
  );
  return {
    trust_domain: svc.authorities.trustDomain,
    svids,
    jwks: svc.authorities.jwks() as unknown as WorkloadJwtResponse["jwks"],
    skipped,
    workload_attributes_read: read,
  };
}

function renderClaims(v: unknown, render: (t: string) => string): unknown {
  if (typeof v === "string") return render(v);
  if (Array.isArray(v)) return v.map((x) => renderClaims(x, render));
  if (v && typeof v === "object")
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, renderClaims(x, render)]));
  return v;
}
