// The join methods the reference documents (§3, §9.3), in one list for both halves: the
// agent's config (tbot.yaml onboarding.join_method) and the auth service's token resource
// (spec.join_method). It includes ec2, which the reference's shared join client also knows.
// The ones this build implements are listed in registry.ts (src/join/<method>/); the others
// are recognised so that a valid reference file gets "not supported by this build", not
// "unknown". A method added to the registry must be in this list too.

export const joinMethods = [
  "token",
  "bound_keypair",
  "tpm",
  "ec2",
  "iam",
  "gcp",
  "azure",
  "azure_devops",
  "kubernetes",
  "github",
  "gitlab",
  "circleci",
  "spacelift",
  "terraform_cloud",
  "bitbucket",
  "oracle",
  "env0",
  "generic_oidc",
] as const;
