// Kubernetes join, server half: the projected service-account token must verify with the
// token's pinned JWKS (static_jwks: the cluster's keys; no issuer is pinned, as in the
// reference) or its cluster issuer's published keys (oidc), be meant for this cluster (aud =
// the cluster name, the audience the pod's projected token is requested with), be bound to a
// pod (a long-lived legacy service-account secret has no `kubernetes.io.pod` and no `exp`),
// and name an allowed service account.

import type { TokenResource } from "../../resources/types.ts";
import { accessDenied } from "../../util/errors.ts";
import {
  type IdTokenClaims,
  idTokenJoinServer,
  issuerKeyCache,
  KUBERNETES_ALLOW,
  staticJwksSource,
} from "../oidc/index.ts";
import type { JoinContext } from "../types.ts";
import type { KubernetesSpec } from "./token-spec.ts";

function boundToPod(claims: IdTokenClaims): void {
  const k8s = claims["kubernetes.io"] as { pod?: { name?: unknown } } | undefined;
  if (typeof k8s?.pod?.name !== "string")
    throw accessDenied(
      'service-account token is not bound to a pod ("kubernetes.io".pod missing): use a projected token, not a long-lived secret',
    );
}

function policy(ctx: JoinContext, token: TokenResource) {
  const k = token.spec.kubernetes as KubernetesSpec;
  if (k.type === "static_jwks")
    return { issuer: null, keys: staticJwksSource(k.static_jwks.jwks), rules: k.allow, check: boundToPod };
  return {
    issuer: k.oidc.issuer,
    keys: issuerKeyCache(ctx).forIssuer(k.oidc.issuer),
    rules: k.allow,
    check: boundToPod,
  };
}

export const kubernetesJoinServer = idTokenJoinServer({
  name: "kubernetes",
  allow: KUBERNETES_ALLOW,
  policy,
});
