// The contract between the auth service and its join methods. A method's server half sees
// only this context, so the method's protocol reads in one place (src/join/<method>/) and
// the auth service does not know method details (smallstep's provisioner shape).

import { createHash } from "node:crypto";
import type { TlsIdentity } from "../crypto/tls-identity.ts";
import type { JoinRequest, JoinResponse, JoinResult, PublicKeys } from "../protocol/messages.ts";
import type { BotResource, TokenResource } from "../resources/types.ts";

export interface StoredTokenView {
  token: TokenResource;
  revision: string;
  consumedAt?: string;
  /** For a used single-use token: the instance it made and the key it was used with. */
  consumedByInstance?: string;
  consumedByKey?: string;
}

/** Certificates as issued, before they are sent. */
export interface IssuedCertificates {
  tls_cert: string;
  expires: Date;
}

export interface FinishJoinArgs {
  bot: BotResource;
  /** Name shown in audit and instance records; masked for secret tokens. */
  tokenHint: string;
  joinMethod: string;
  publicKeys: PublicKeys;
  expires: Date;
  instanceId: string;
  /**
   * False for an authenticated re-join that keeps the caller's instance: the certificate it
   * presented is judged by the auth service's generation rules (generations.ts); a copy of the bot
   * presenting a stale one is caught, and `onGenerationMismatch` runs before the denial.
   */
  isNewInstance: boolean;
  onGenerationMismatch?: () => Promise<never>;
  /**
   * A join whose response was lost, made again by the same joiner: instance `instanceId`
   * exists already and gets new certificates only while it has never been used.
   */
  again?: boolean;
  /**
   * The method's own state change (a token consumed, a key bound), made after the
   * certificates are issued and before the instance is recorded: a request that cannot be
   * served changes nothing.
   */
  commit?: (certs: IssuedCertificates) => Promise<void>;
  methodResult?: Record<string, unknown>;
  /**
   * The verified, non-secret attributes of this join (the ID token's claims for github,
   * gitlab, kubernetes; account and ARN for iam), under the method's name: recorded on the
   * instance's authentication as `join_attrs`, they are what workload identity templates read
   * as `join.<method>.<claim>`.
   */
  joinAttributes?: Record<string, unknown>;
}

export interface JoinContext {
  remoteAddr: string;
  /** Set when the join arrived over mTLS with a bot identity (a refresh). */
  caller?: TlsIdentity;
  findToken(name: string): Promise<StoredTokenView | null>;
  /**
   * Marks a single-use token used by instance `instanceId` and the key `keyId` (publicKeyId);
   * compare_failed if someone else used it first.
   */
  consumeToken(name: string, revision: string, instanceId: string, keyId: string): Promise<void>;
  /** Whether a bot instance has never been used since its first certificates. */
  isUnusedInstance(bot: string, instanceId: string): Promise<boolean>;
  getBot(name: string): Promise<BotResource | null>;
  newInstanceId(): string;
  readonly clusterName: string;
  /**
   * The clock: milliseconds since the epoch by the cluster's clock (the database's when
   * replicas share one): what token, challenge and deadline expiry is judged by, whichever
   * replica judges. Methods read time only here (never Date.now()), so tests can set it.
   */
  now(): number;
  /**
   * Outbound HTTP (issuers' discovery documents and JWKS, AWS STS): the standard fetch
   * signature; in production global fetch trusting SSL_CERT_FILE when set. Methods make
   * requests only through this, so their server halves are unit-tested with a fake.
   */
  fetch: HttpFetcher;
  /**
   * State a method keeps for the life of the auth service (one per process, shared by every
   * join): `make` runs on the first call for `key`. The OIDC methods keep their issuer key
   * cache here, so its cache and rate limits span requests.
   */
  methodCache?<T>(key: string, make: () => T): T;
  /** Continuations bound to this join's method and token (the auth service's continuations.ts). */
  issueContinuation(state: Record<string, unknown>, ttlMs: number): Promise<string>;
  redeemContinuation(text: string): Promise<Record<string, unknown>>;
  /** Replace a token's resource (its status) by compare-and-swap; compare_failed if it changed. */
  updateToken(name: string, revision: string, token: TokenResource): Promise<void>;
  lockToken(name: string, message: string): Promise<void>;
  /** Join-state documents: signed by the cluster, verified on the next join. */
  signJoinState(claims: Record<string, unknown>): Promise<string>;
  verifyJoinState(jwt: string): Promise<Record<string, unknown>>;
  finishBotJoin(args: FinishJoinArgs): Promise<JoinResult>;
  audit(event: string, fields: Record<string, unknown>): void;
}

/** The standard fetch signature, for JoinContext.fetch. */
export type HttpFetcher = (url: string, init?: RequestInit) => Promise<Response>;

export interface JoinMethodServer {
  readonly method: string;
  handle(ctx: JoinContext, req: JoinRequest): Promise<JoinResponse>;
}

/** Masked form of a secret token name for logs, audit and listings: never the secret. */
export function maskSecret(hashHex: string): string {
  return `sha256:${hashHex.slice(0, 16)}`;
}

/** A stable name for a PEM public key: the SHA-256 of its DER body, whatever the line breaks. */
export function publicKeyId(pem: string): string {
  const body = pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  return createHash("sha256").update(Buffer.from(body, "base64")).digest("hex");
}
