// Words a token spec may use (reference §3, §9.3). We implement token, bound_keypair and tpm;
// the other methods' blocks are accepted and kept so that an operator's Teleport token file
// loads, and the server then says plainly which methods it does not serve.

export { joinMethods } from "../../join/methods.ts";

/** Method blocks passed through untouched (their own join methods are not implemented here). */
export const passThroughSpecKeys = [
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
] as const;

export const tokenSpecKeys = [
  "roles",
  "join_method",
  "bot_name",
  "bound_keypair",
  "tpm",
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
