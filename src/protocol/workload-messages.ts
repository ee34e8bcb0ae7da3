// Wire messages of workload identities (SPIFFE X.509 and JWT SVIDs), asked for with a bot's
// internal identity by the workload-identity-* outputs and the Workload API: the selector,
// the workload's attested attributes, and the answers. Re-exported by messages.ts.

import { anyOf, arr, bool, int, MAX_KEY_CHARS, obj, optional, record, type Schema, str } from "./validate.ts";

/** Which workload identities: one by name, or every one whose labels match (and the roles grant). */
export interface WorkloadSelector {
  name?: string;
  labels?: Record<string, string | string[]>;
}

/**
 * What the agent attested about the workload (the Workload API's peer), templated as
 * `workload.unix.uid` etc. Absent for outputs written to disk (no workload).
 */
export interface WorkloadAttributes {
  unix?: {
    /** true when the agent attested the peer (SO_PEERCRED): `workload.unix.attested`. */
    attested?: boolean;
    uid?: number;
    gid?: number;
    pid?: number;
    binary_path?: string;
    /** Lowercase hex SHA-256 of the executable. */
    binary_hash?: string;
  };
}

const WorkloadSelectorSchema: Schema<WorkloadSelector> = obj<WorkloadSelector>({
  name: optional(str({ min: 1, max: 63 })) as Schema<string>,
  labels: optional(
    record(str({ min: 1, max: 128 }), anyOf(str({ max: 256 }), arr(str({ max: 256 }), { max: 32 })), {
      maxKeys: 32,
    }),
  ) as Schema<Record<string, string | string[]>>,
});

const WorkloadAttributesSchema: Schema<WorkloadAttributes> = obj<WorkloadAttributes>({
  unix: optional(
    obj<NonNullable<WorkloadAttributes["unix"]>>({
      attested: optional(bool()),
      uid: optional(int({ min: 0, max: 0xffffffff })),
      gid: optional(int({ min: 0, max: 0xffffffff })),
      pid: optional(int({ min: 0, max: 0x7fffffff })),
      binary_path: optional(str({ max: 4096 })) as Schema<string>,
      binary_hash: optional(
        str({ max: 128, pattern: /^[0-9a-f]*$/, patternHint: "lowercase hex" }),
      ) as Schema<string>,
    }),
  ) as Schema<NonNullable<WorkloadAttributes["unix"]>>,
});

/**
 * POST /v1/certs/workload-identity/x509, bot's internal identity: an X.509 SVID for each
 * selected workload identity the bot's roles grant (workload_identity_labels) and whose rules
 * pass, for `public_key`. A name selector that is not granted, fails its rules or misses a
 * template attribute is a 403 with the reason; a labels selector issues what it can and lists
 * the rest in `skipped` (403 when nothing is issued).
 */
export interface WorkloadX509Request {
  selector: WorkloadSelector;
  /** PKIX PEM (ECDSA P-256 or Ed25519). */
  public_key: string;
  /** Requested lifetime; capped by the identity's x509.maximum_ttl (24h default) and the bot's. Default 1h. */
  ttl_seconds?: number;
  workload?: WorkloadAttributes;
}

export const WorkloadX509RequestSchema: Schema<WorkloadX509Request> = obj<WorkloadX509Request>({
  selector: WorkloadSelectorSchema,
  public_key: str({ min: 1, max: MAX_KEY_CHARS }),
  ttl_seconds: optional(int({ min: 1, max: 366 * 86400 })),
  workload: optional(WorkloadAttributesSchema) as Schema<WorkloadAttributes>,
});

export interface X509Svid {
  /** The workload_identity resource it came from. */
  name: string;
  spiffe_id: string;
  hint?: string;
  /** PEM leaf (URI SAN = spiffe_id). */
  cert: string;
  /** RFC 3339 notAfter. */
  expires: string;
  serial: string;
}

export interface SkippedIdentity {
  name: string;
  reason: string;
}

export interface WorkloadX509Response {
  trust_domain: string;
  svids: X509Svid[];
  /** The trust domain's X.509 bundle: the SPIFFE CA certificates (PEM). */
  bundle: string[];
  /** Identities a labels selector matched but could not issue, with why. */
  skipped: SkippedIdentity[];
  /** See WorkloadAttributesRead. Absent from an older tauth. */
  workload_attributes_read?: string[];
}

/**
 * The `workload.*` attributes (dotted paths, e.g. `workload.unix.uid`) that the rules and
 * templates of the identities a request selected read. Two workloads that agree on these get
 * the same answer, so the agent may serve one's SVIDs to the other: without a pid in any
 * template or rule, every process of a uid shares one issuance instead of costing one each.
 */
export type WorkloadAttributesRead = string[];

/** POST /v1/certs/workload-identity/jwt: a JWT SVID per selected identity, for `audiences`. */
export interface WorkloadJwtRequest {
  selector: WorkloadSelector;
  /** At least one (JWT-SVID spec: aud is required). */
  audiences: string[];
  /** Default 5 minutes; capped by jwt.maximum_ttl (24h default) and the bot's. */
  ttl_seconds?: number;
  workload?: WorkloadAttributes;
}

export const WorkloadJwtRequestSchema: Schema<WorkloadJwtRequest> = obj<WorkloadJwtRequest>({
  selector: WorkloadSelectorSchema,
  audiences: arr(str({ min: 1, max: 512 }), { min: 1, max: 16 }),
  ttl_seconds: optional(int({ min: 1, max: 366 * 86400 })),
  workload: optional(WorkloadAttributesSchema) as Schema<WorkloadAttributes>,
});

export interface JwtSvid {
  name: string;
  spiffe_id: string;
  hint?: string;
  /** Compact JWS, ES256, header kid = a key of /v1/spiffe/jwks.json. */
  token: string;
  audiences: string[];
  expires: string;
  jti: string;
}

export interface WorkloadJwtResponse {
  trust_domain: string;
  svids: JwtSvid[];
  /** The JWKS the tokens verify against (also public at /v1/spiffe/jwks.json). */
  jwks: { keys: Record<string, unknown>[] };
  skipped: SkippedIdentity[];
  /** See WorkloadAttributesRead. Absent from an older tauth. */
  workload_attributes_read?: string[];
}
