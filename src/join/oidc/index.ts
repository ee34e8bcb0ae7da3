// The OIDC core used by the github, gitlab and kubernetes join methods: verify the ID token
// (verify.ts, keys from jwks-source.ts), then match the token resource's allow rules
// (allow-rules.ts). One import for the method folders.

export {
  type AllowField,
  type AllowMatch,
  type AllowRule,
  type AllowRuleSpec,
  GITHUB_ALLOW,
  GITLAB_ALLOW,
  KUBERNETES_ALLOW,
  matchAllowRules,
  validateAllowRules,
} from "./allow-rules.ts";
export { defaultFetcher, type Fetcher } from "./fetch-json.ts";
export { GITHUB_ISSUER, githubIssuer, gitlabIssuer } from "./issuers.ts";
export {
  type IdTokenInit,
  type IdTokenMethod,
  type IdTokenPolicy,
  idTokenJoinServer,
} from "./join-server.ts";
export { ASYMMETRIC_ALGORITHMS, parseJwks } from "./jwks.ts";
export {
  IssuerKeyCache,
  type IssuerKeyCacheOptions,
  type KeySource,
  staticJwksSource,
} from "./jwks-source.ts";
export { issuerKeyCache } from "./keys-cache.ts";
export { guard, issuerUrlProblem, readAllowRules, readStaticJwks } from "./token-spec-kit.ts";
export {
  DEFAULT_LEEWAY_SECONDS,
  type IdTokenClaims,
  type VerifyIdTokenOptions,
  verifyIdToken,
} from "./verify.ts";
