// Every `services` type the reference documents (§1.6). A type listed here but not in the
// registry is "not supported by this build", so that a user with a valid reference file is not
// told their file is wrong; anything else is "unrecognized". Adding an output type needs no
// change here.

export const referenceServiceTypes: readonly string[] = [
  "identity",
  "ssh_host",
  "application",
  "application-proxy",
  "application-tunnel",
  "database",
  "database-tunnel",
  "example",
  "kubernetes",
  "kubernetes/argo-cd",
  "kubernetes/v2",
  "spiffe-svid",
  "spiffe-workload-api",
  "ssh-multiplexer",
  "workload-identity-api",
  "workload-identity-aws-roles-anywhere",
  "workload-identity-jwt",
  "workload-identity-x509",
];
