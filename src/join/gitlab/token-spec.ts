// spec.gitlab (reference §3, §9.3): which GitLab CI jobs may join (the reference's claim set,
// glob on sub, ref, namespace_path and project_path), the instance's domain for self-hosted
// GitLab (default gitlab.com), and optionally its keys pinned (static_jwks).

import type { Cursor } from "../../resources/cursor.ts";
import { type AllowRule, GITLAB_ALLOW } from "../oidc/allow-rules.ts";
import { gitlabIssuer } from "../oidc/issuers.ts";
import { guard, readAllowRules, readStaticJwks } from "../oidc/token-spec-kit.ts";

export interface GitlabSpec {
  allow: AllowRule[];
  domain?: string;
  /** A JWKS as a JSON string. */
  static_jwks?: string;
}

export function readGitlab(node: Cursor, joinMethodNode: Cursor): GitlabSpec {
  if (node.missing)
    joinMethodNode.fail(
      'join_method "gitlab" needs a spec.gitlab block with allow rules (each setting project_path, namespace_path or sub)',
    );
  const block = node.map().strict(["allow", "domain", "static_jwks"]);
  const spec: GitlabSpec = { allow: readAllowRules(node, block.get("allow"), GITLAB_ALLOW) };
  const domain = block.optStr("domain");
  if (domain) {
    guard(block.get("domain"), () => gitlabIssuer(domain));
    spec.domain = domain;
  }
  if (block.has("static_jwks") && block.optStr("static_jwks"))
    spec.static_jwks = readStaticJwks(block.get("static_jwks"));
  return spec;
}
