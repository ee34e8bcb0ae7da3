// Resources both SPIFFE e2e files create: the role that grants workload identities by label,
// and an identity it does not grant.

/** Role svid-issuer: workload identities labelled env=prod. */
export const SVID_ISSUER_ROLE = `kind: role
version: v7
metadata: {name: svid-issuer}
spec:
  allow:
    workload_identity_labels: {env: prod}
`;

/** Workload identity staging (env=staging): svid-issuer does not grant it. */
export const STAGING_WORKLOAD_IDENTITY = `kind: workload_identity
version: v1
metadata:
  name: staging
  labels: {env: staging}
spec:
  spiffe: {id: /staging}
`;
