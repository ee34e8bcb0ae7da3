// spec.kubernetes (reference §3, §9.3): which service accounts ("namespace:name") may join,
// and how their projected tokens are verified: `static_jwks` (the cluster's JWKS pinned in
// the token) or `oidc` (the cluster's issuer, by discovery). `in_cluster` (the TokenReview API,
// the reference's default type) needs the cluster's API server, which this build has no
// client for: refused here in one line rather than failing at every join.

import type { Cursor } from "../../resources/cursor.ts";
import { type AllowRule, KUBERNETES_ALLOW } from "../oidc/allow-rules.ts";
import { issuerUrlProblem, readAllowRules, readStaticJwks } from "../oidc/token-spec-kit.ts";

export type KubernetesSpec =
  | { type: "static_jwks"; static_jwks: { jwks: string }; allow: AllowRule[] }
  | { type: "oidc"; oidc: { issuer: string }; allow: AllowRule[] };

const TYPES = ["in_cluster", "static_jwks", "oidc"];

export function readKubernetes(node: Cursor, joinMethodNode: Cursor): KubernetesSpec {
  if (node.missing)
    joinMethodNode.fail(
      'join_method "kubernetes" needs a spec.kubernetes block with type (static_jwks or oidc) and allow rules (service_account: "namespace:name")',
    );
  const block = node.map().strict(["type", "allow", "static_jwks", "oidc"]);
  const typeNode = block.get("type");
  const type = block.optStr("type") || "in_cluster";
  if (!TYPES.includes(type))
    (typeNode.missing ? node : typeNode).fail(
      `${node.path}.type must be one of ${TYPES.join(", ")}, got "${type}"`,
    );
  if (type === "in_cluster")
    (typeNode.missing ? node : typeNode).fail(
      `${node.path}.type in_cluster${typeNode.missing ? " (the default)" : ""} is not supported by this build: it needs the Kubernetes TokenReview API; use type static_jwks or oidc`,
    );
  const allow = readAllowRules(node, block.get("allow"), KUBERNETES_ALLOW);
  for (const [i, rule] of allow.entries()) {
    const sa = rule.service_account as string;
    if (!/^[^:\s]+:[^:\s]+$/.test(sa))
      block
        .get("allow")
        .list()
        [i]!.map()
        .get("service_account")
        .fail(`${node.path}.allow[${i}].service_account must be "namespace:name", got "${sa}"`);
  }
  const other = type === "static_jwks" ? "oidc" : "static_jwks";
  if (block.has(other) && !block.get(other).missing)
    block.get(other).fail(`${node.path}.${other} is set but type is ${type}; remove one`);
  if (type === "static_jwks") {
    const sj = block.get("static_jwks");
    if (sj.missing)
      node.fail(
        `${node.path}.static_jwks.jwks is required for type static_jwks (kubectl get --raw /openid/v1/jwks)`,
      );
    const f = sj.map().strict(["jwks"]);
    if (!f.has("jwks")) sj.fail(`${sj.path}.jwks is required (kubectl get --raw /openid/v1/jwks)`);
    return { type: "static_jwks", static_jwks: { jwks: readStaticJwks(f.get("jwks")) }, allow };
  }
  const o = block.get("oidc");
  if (o.missing) node.fail(`${node.path}.oidc.issuer is required for type oidc`);
  const f = o.map().strict(["issuer", "insecure_allow_http_issuer"]);
  if (!f.has("issuer")) o.fail(`${o.path}.issuer is required (the cluster's service-account issuer URL)`);
  const issuer = f.get("issuer").str();
  const problem = issuerUrlProblem(issuer);
  if (problem) f.get("issuer").fail(`${o.path}.issuer ${problem}`);
  if (f.has("insecure_allow_http_issuer") && f.get("insecure_allow_http_issuer").toJS() === true)
    f.get("insecure_allow_http_issuer").fail(
      `${o.path}.insecure_allow_http_issuer is not supported by this build: issuers must use https`,
    );
  return { type: "oidc", oidc: { issuer }, allow };
}
