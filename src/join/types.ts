// The contract between the auth service and its join methods. A method's server half sees
// only this context, so the method's protocol reads in one place (src/join/<method>/) and
// the auth service does not know method details (smallstep's provisioner shape).

import type { BotResource, TokenResource } from "../auth/resources/index.ts";
import type { TlsIdentity } from "../crypto/tls-identity.ts";
import type { JoinRequest, JoinResponse, JoinResult, PublicKeys } from "../protocol/messages.ts";

export interface StoredTokenView {
  token: TokenResource;
  revision: string;
  consumedAt?: string;
}

export interface FinishJoinArgs {
  bot: BotResource;
  /** Name shown in audit and instance records; masked for secret tokens. */
  tokenHint: string;
  joinMethod: string;
  renewable: boolean;
  publicKeys: PublicKeys;
  expires: Date;
  instanceId: string;
  /** False for an authenticated re-join that keeps its instance. */
  isNewInstance: boolean;
  /**
   * For a re-join that keeps its instance: the generation its certificate carries. It must be
   * the instance's current one (compare-and-swap, then incremented), so that a copy of the bot
   * presenting an older certificate is caught; `onGenerationMismatch` runs first if not.
   */
  expectedGeneration?: number;
  onGenerationMismatch?: () => Promise<never>;
  methodResult?: Record<string, unknown>;
}

export interface JoinContext {
  remoteAddr: string;
  /** Set when the join arrived over mTLS with a bot identity (a refresh). */
  caller?: TlsIdentity;
  findToken(name: string): Promise<StoredTokenView | null>;
  /** Marks a single-use token used; compare_failed if someone else used it first. */
  consumeToken(name: string, revision: string, instanceId: string): Promise<void>;
  getBot(name: string): Promise<BotResource | null>;
  newInstanceId(): string;
  readonly clusterName: string;
  /** Continuations bound to this join's method and token (see src/auth/continuations.ts). */
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

export interface JoinMethodServer {
  readonly method: string;
  handle(ctx: JoinContext, req: JoinRequest): Promise<JoinResponse>;
}

/** Masked form of a secret token name for logs, audit and listings: never the secret. */
export function maskSecret(hashHex: string): string {
  return `sha256:${hashHex.slice(0, 16)}`;
}
