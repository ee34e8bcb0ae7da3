// The server half shared by the ID-token join methods (github, gitlab, kubernetes): find the
// token, verify the ID token the client sent against the token's issuer or pinned keys, match
// the allow rules, and issue non-renewable certificates. A bot re-joining over mTLS with its
// current identity (the daemon's refresh, with a fresh ID token) keeps its bot instance, as
// tpm and bound_keypair do.
//
// Audience: the cluster name for all three, as the reference's tbot requests it from GitHub
// Actions, as its GitLab guide tells users to set `id_tokens.TBOT_GITLAB_JWT.aud` ("must be
// configured with the name of your Teleport cluster … no port or scheme"), and as a projected
// service-account token for Teleport is requested (`audience:` the cluster name).

import type { JoinRequest, JoinResponse } from "../../protocol/messages.ts";
import type { TokenResource } from "../../resources/types.ts";
import { accessDenied, badParameter } from "../../util/errors.ts";
import { validateBotTokenForJoin } from "../token-rules.ts";
import type { JoinContext, JoinMethodServer } from "../types.ts";
import { type AllowRule, type AllowRuleSpec, matchAllowRules } from "./allow-rules.ts";
import type { KeySource } from "./jwks-source.ts";
import { type IdTokenClaims, verifyIdToken } from "./verify.ts";

/** What a method says about one token: where its keys come from and what it allows. */
export interface IdTokenPolicy {
  /** The `iss` required; null only for kubernetes static_jwks. */
  issuer: string | null;
  keys: KeySource;
  rules: readonly AllowRule[];
  /** A method's own checks on the verified claims (kubernetes: bound to a pod). */
  check?(claims: IdTokenClaims): void;
}

export interface IdTokenMethod {
  name: string;
  allow: AllowRuleSpec;
  policy(ctx: JoinContext, token: TokenResource): IdTokenPolicy;
}

/** The first message of every ID-token join. */
export interface IdTokenInit {
  id_token: string;
}

export function idTokenJoinServer(m: IdTokenMethod): JoinMethodServer {
  return {
    method: m.name,
    async handle(ctx: JoinContext, req: JoinRequest): Promise<JoinResponse> {
      const name = req.client_init.token_name;
      const found = await ctx.findToken(name);
      if (!found)
        throw accessDenied("join token expired or not found: ask the cluster operator for a new one");
      const token = found.token;
      if (token.spec.join_method !== m.name)
        throw badParameter(
          `join token uses the "${token.spec.join_method || "token"}" join method, not "${m.name}"; set onboarding.join_method accordingly`,
        );
      const bot = await validateBotTokenForJoin(ctx, token);
      const idToken = (req.method_init as Partial<IdTokenInit> | undefined)?.id_token;
      if (typeof idToken !== "string" || idToken === "")
        throw badParameter(`the ${m.name} join method needs an ID token (method_init.id_token)`);
      const policy = m.policy(ctx, token);
      const claims = await verifyIdToken(idToken, {
        issuer: policy.issuer,
        audience: ctx.clusterName,
        keys: policy.keys,
        now: () => ctx.now(),
      });
      policy.check?.(claims);
      const { ruleIndex } = matchAllowRules(m.allow, policy.rules, claims);
      const sub = typeof claims.sub === "string" ? claims.sub : "";
      const refresh = ctx.caller?.botName === bot.metadata.name && !!ctx.caller.botInstanceId;
      // The rule that matched and who the platform says the caller is; never the token.
      ctx.audit(`${m.name}.join`, { token: name, bot: bot.metadata.name, rule_index: ruleIndex, sub });
      return ctx.finishBotJoin({
        bot,
        tokenHint: name,
        joinMethod: m.name,
        publicKeys: req.bot_params.public_keys,
        expires: new Date(req.bot_params.expires),
        instanceId: refresh ? ctx.caller!.botInstanceId! : ctx.newInstanceId(),
        isNewInstance: !refresh,
        methodResult: { rule_index: ruleIndex, sub },
        joinAttributes: { [m.name]: claimAttributes(claims) },
      });
    },
  };
}

/** Claims a workload identity may template: scalar values and nested objects of them, no token material. */
function claimAttributes(claims: Record<string, unknown>): Record<string, unknown> {
  const skip = new Set(["nonce", "at_hash", "c_hash", "jti"]);
  const keep = (v: unknown, depth: number): unknown => {
    if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") return v;
    if (depth < 3 && v && typeof v === "object" && !Array.isArray(v)) {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        const kept = keep(x, depth + 1);
        if (kept !== undefined) out[k] = kept;
      }
      return out;
    }
    return undefined;
  };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(claims)) {
    if (skip.has(k)) continue;
    const kept = keep(v, 0);
    if (kept !== undefined) out[k] = kept;
  }
  // Kubernetes keeps its pod and service account under "kubernetes.io"; the reference's names.
  const k8s = out["kubernetes.io"] as Record<string, Record<string, unknown>> | undefined;
  if (k8s && typeof k8s === "object") {
    if (k8s.namespace !== undefined) out.namespace = k8s.namespace;
    if (k8s.serviceaccount) out.service_account = { ...k8s.serviceaccount, namespace: k8s.namespace };
    if (k8s.pod) out.pod = { ...k8s.pod, namespace: k8s.namespace };
  }
  return out;
}
