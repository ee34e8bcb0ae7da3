// spec.github (reference §3, §9.3): which GitHub Actions runs may join, and for GitHub
// Enterprise the issuer (enterprise_server_host or enterprise_slug) and optionally its keys
// pinned (static_jwks, for an auth service that cannot reach the GHES server).

import type { Cursor } from "../../resources/cursor.ts";
import { type AllowRule, GITHUB_ALLOW } from "../oidc/allow-rules.ts";
import { githubIssuer } from "../oidc/issuers.ts";
import { guard, readAllowRules, readStaticJwks } from "../oidc/token-spec-kit.ts";

export interface GithubSpec {
  allow: AllowRule[];
  enterprise_server_host?: string;
  enterprise_slug?: string;
  /** A JWKS as a JSON string. */
  static_jwks?: string;
}

export function readGithub(node: Cursor, joinMethodNode: Cursor): GithubSpec {
  if (node.missing)
    joinMethodNode.fail(
      'join_method "github" needs a spec.github block with allow rules (each setting repository, repository_owner or sub)',
    );
  const block = node.map().strict(["allow", "enterprise_server_host", "enterprise_slug", "static_jwks"]);
  const spec: GithubSpec = { allow: readAllowRules(node, block.get("allow"), GITHUB_ALLOW) };
  // "" is unset, as Teleport exports it.
  const host = block.optStr("enterprise_server_host");
  const slug = block.optStr("enterprise_slug");
  if (host) spec.enterprise_server_host = host;
  if (slug) spec.enterprise_slug = slug;
  // The issuer is built now so a URL given as a host, or host and slug together, fails here.
  guard(block.get(host ? "enterprise_server_host" : "enterprise_slug"), () =>
    githubIssuer({ enterpriseServerHost: host, enterpriseSlug: slug }),
  );
  if (block.has("static_jwks") && block.optStr("static_jwks"))
    spec.static_jwks = readStaticJwks(block.get("static_jwks"));
  return spec;
}
