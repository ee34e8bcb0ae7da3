// TAUTH_GITHUB_ISSUER_URL replaces github.com's issuer for tokens that name neither a GHES host
// nor an enterprise slug: for tests and air-gapped mirrors of the issuer only. It must be https.
// Its own file (no jose) so tauth can check and log it at start.

import { UserError } from "../../util/errors.ts";
import { issuerUrlProblem } from "../oidc/token-spec-kit.ts";

export const GITHUB_ISSUER_ENV = "TAUTH_GITHUB_ISSUER_URL";

/** The configured override of github.com's issuer, or undefined. */
export function githubIssuerOverride(
  env: Record<string, string | undefined> = process.env,
): string | undefined {
  const v = env[GITHUB_ISSUER_ENV];
  if (!v) return undefined;
  const problem = issuerUrlProblem(v);
  if (problem) throw new UserError(`${GITHUB_ISSUER_ENV} ${problem}`, "bad_parameter");
  return v;
}
