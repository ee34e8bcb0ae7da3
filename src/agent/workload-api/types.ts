// The Workload API's interface to the rest of tbot: a source of identities for attested
// workloads. The server (server.ts) knows gRPC and the SPIFFE rules; the source knows which
// workload gets which SPIFFE ID (selectors, rules, templates) and holds the SVIDs and bundles.

import type { WorkloadAttributes } from "./attest-unix.ts";

export type { WorkloadAttributes };

export interface X509Svid {
  /** spiffe://<trust domain>/<path> */
  spiffeId: string;
  /** DER certificates, leaf first (intermediates after it, if any). */
  chain: Uint8Array[];
  /** The leaf's private key, unencrypted PKCS#8 DER. */
  key: Uint8Array;
  hint?: string;
}

export interface JwtSvid {
  spiffeId: string;
  /** JWS compact serialization. */
  token: string;
  hint?: string;
}

export interface TrustBundles {
  /** CA certificates (DER) keyed by trust domain name (`example.org`, no scheme). */
  x509: Map<string, Uint8Array[]>;
  /** JWKS documents keyed by trust domain name. */
  jwt: Map<string, { keys: object[] }>;
  /** DER CRLs, optional. */
  crl?: Uint8Array[];
}

export interface WorkloadIdentitySource {
  /**
   * The SPIFFE IDs `attrs` is entitled to, without issuing anything. Empty (or a thrown
   * PermissionDeniedError with a reason) means PermissionDenied for every method.
   */
  identities(attrs: WorkloadAttributes): Promise<string[]>;
  /** Current X.509-SVIDs for `attrs`: the full set, every call. */
  x509Svids(attrs: WorkloadAttributes): Promise<X509Svid[]>;
  /** JWT-SVIDs for `audience`, all identities or only `spiffeId`. */
  jwtSvids(attrs: WorkloadAttributes, audience: string[], spiffeId?: string): Promise<JwtSvid[]>;
  /** The trust bundles: the local trust domain's and federated ones. */
  bundles(): TrustBundles;
  /**
   * Called after any SVID or bundle changed (renewal, CA rotation, rules changed). Open streams
   * then send their full set again. Returns the unsubscribe function.
   */
  onRotate(listener: () => void): () => void;
}

/** A source's way to say "no identity for this caller" with a reason for the client. */
export class PermissionDeniedError extends Error {}

/** A source's way to say "not ready yet" (no SVIDs issued yet): clients retry. */
export class UnavailableError extends Error {}
