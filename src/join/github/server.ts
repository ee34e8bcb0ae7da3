// GitHub join, server half: the ID token must come from github.com's Actions issuer (or the
// token's GHES host / enterprise slug; TAUTH_GITHUB_ISSUER_URL, see issuer-override.ts, for
// github.com's in tests), be meant for this cluster, and match an allow rule.

import type { TokenResource } from "../../resources/types.ts";
import {
  GITHUB_ALLOW,
  githubIssuer,
  idTokenJoinServer,
  issuerKeyCache,
  staticJwksSource,
} from "../oidc/index.ts";
import type { JoinContext } from "../types.ts";
import { githubIssuerOverride } from "./issuer-override.ts";
import type { GithubSpec } from "./token-spec.ts";

function policy(ctx: JoinContext, token: TokenResource) {
  const gh = token.spec.github as GithubSpec;
  const enterprise = gh.enterprise_server_host || gh.enterprise_slug;
  const issuer =
    (!enterprise && githubIssuerOverride()) ||
    githubIssuer({ enterpriseServerHost: gh.enterprise_server_host, enterpriseSlug: gh.enterprise_slug });
  return {
    issuer,
    keys: gh.static_jwks ? staticJwksSource(gh.static_jwks) : issuerKeyCache(ctx).forIssuer(issuer),
    rules: gh.allow,
  };
}

export const githubJoinServer = idTokenJoinServer({ name: "github", allow: GITHUB_ALLOW, policy });
