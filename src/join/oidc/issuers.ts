// The issuer URL each CI join method verifies against, from the token resource's settings.
// The URL is compared exactly with the token's `iss` and with the discovery document's
// `issuer`, so it is built in one place.

import { badParameter } from "../../util/errors.ts";

export const GITHUB_ISSUER = "https://token.actions.githubusercontent.com";
export const GITLAB_DEFAULT_DOMAIN = "gitlab.com";

/** A bare host name (optionally with a port): no scheme, path, user info or spaces. */
function checkHost(value: string, field: string): void {
  if (!/^[A-Za-z0-9.-]+(:[0-9]{1,5})?$/.test(value))
    throw badParameter(`${field} must be a host name such as "github.example.com" (no scheme or path)`);
}

/**
 * GitHub Actions: github.com's issuer, the enterprise-specific one when `enterprise_slug` is
 * set (GitHub's "customizing the issuer value for an enterprise"), or a GitHub Enterprise
 * Server's at https://<host>/_services/token.
 */
export function githubIssuer(opts: { enterpriseServerHost?: string; enterpriseSlug?: string } = {}): string {
  const host = opts.enterpriseServerHost || undefined;
  const slug = opts.enterpriseSlug || undefined;
  if (host && slug)
    throw badParameter("github: enterprise_server_host and enterprise_slug cannot both be set");
  if (host) {
    checkHost(host, "github.enterprise_server_host");
    return `https://${host}/_services/token`;
  }
  if (slug) {
    if (!/^[A-Za-z0-9_-]+$/.test(slug))
      throw badParameter("github.enterprise_slug must be the enterprise's slug (letters, digits, - and _)");
    return `${GITHUB_ISSUER}/${slug}`;
  }
  return GITHUB_ISSUER;
}

/** GitLab: https://<domain>, gitlab.com when the token names no domain (self-hosted sets it). */
export function gitlabIssuer(domain?: string): string {
  const d = domain || GITLAB_DEFAULT_DOMAIN;
  checkHost(d, "gitlab.domain");
  return `https://${d}`;
}
