// GitLab join, server half: the ID token must come from https://<domain> (gitlab.com when the
// token names none), be meant for this cluster (aud = the cluster name, as the reference's
// guide configures id_tokens), and match an allow rule.

import type { TokenResource } from "../../resources/types.ts";
import {
  GITLAB_ALLOW,
  gitlabIssuer,
  idTokenJoinServer,
  issuerKeyCache,
  staticJwksSource,
} from "../oidc/index.ts";
import type { JoinContext } from "../types.ts";
import type { GitlabSpec } from "./token-spec.ts";

function policy(ctx: JoinContext, token: TokenResource) {
  const gl = token.spec.gitlab as GitlabSpec;
  const issuer = gitlabIssuer(gl.domain);
  return {
    issuer,
    keys: gl.static_jwks ? staticJwksSource(gl.static_jwks) : issuerKeyCache(ctx).forIssuer(issuer),
    rules: gl.allow,
  };
}

export const gitlabJoinServer = idTokenJoinServer({ name: "gitlab", allow: GITLAB_ALLOW, policy });
