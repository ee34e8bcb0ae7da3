// Words a token spec may use (reference §3, §9.3). The methods we implement read their own
// blocks (src/join/registry.ts); the other methods' blocks are accepted and kept so that an
// operator's Teleport token file loads, and the server then says plainly which methods it
// does not serve.

import { tokenSpecBlocks } from "../../join/registry.ts";

export { joinMethods } from "../../join/methods.ts";

/** The reference's method blocks and method fields of a token spec. */
const referenceSpecKeys = [
  "bound_keypair",
  "tpm",
  "github",
  "gitlab",
  "circleci",
  "kubernetes",
  "azure",
  "gcp",
  "spacelift",
  "terraform_cloud",
  "bitbucket",
  "oracle",
  "azure_devops",
  "env0",
  "generic_oidc",
  "allow",
  "aws_iid_ttl",
  "suggested_labels",
  "suggested_agent_matcher_labels",
];

const implementedSpecKeys = tokenSpecBlocks.map(({ block }) => block.key);

/** Blocks passed through untouched: their join methods are not implemented here. */
export const passThroughSpecKeys: readonly string[] = referenceSpecKeys.filter(
  (key) => !implementedSpecKeys.includes(key),
);

export const tokenSpecKeys = [
  "roles",
  "join_method",
  "bot_name",
  ...implementedSpecKeys,
  ...passThroughSpecKeys,
];

/** Teleport's system roles, in their canonical spelling (Teleport compares them case-insensitively). */
export const systemRoles = [
  "Auth",
  "Node",
  "Proxy",
  "Admin",
  "ProvisionToken",
  "Trusted_cluster",
  "Signup",
  "Nop",
  "RemoteProxy",
  "Kube",
  "App",
  "Db",
  "WindowsDesktop",
  "Bot",
  "Instance",
  "Discovery",
  "Okta",
  "MDM",
  "AccessGraph",
] as const;
