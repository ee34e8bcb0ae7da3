// What tauth's code tells its metrics (tauth --diag-addr), without prom-client: this module
// is imported everywhere (join, renewal, the HTTP server, the issuer, the backend wrapper) and
// does nothing until start.ts installs a sink (metrics/prom.ts, loaded only with --diag-addr).
//
// Every label value comes from a small fixed set chosen here, never from a request or an error
// message: join methods from the registry's names, results and denial reasons from error codes
// and tags set where a denial is decided, routes from the router's patterns.

import type { ErrorCode } from "../../util/errors.ts";
import { UserError } from "../../util/errors.ts";

/** How a join or renewal ended. */
export type Outcome = "ok" | "denied" | "invalid" | "conflict" | "rate_limited" | "unavailable" | "error";

/** Why a request was refused (403 or 429): the `reason` label of tauth_denials_total. */
export type DenialReason =
  | "access_denied"
  | "no_client_certificate"
  | "wrong_cluster"
  | "wrong_role"
  | "locked"
  | "generation_mismatch"
  | "not_renewable"
  | "bad_token"
  | "attestation_failed"
  | "rate_limited";

export const DENIAL_REASONS: readonly DenialReason[] = [
  "access_denied",
  "no_client_certificate",
  "wrong_cluster",
  "wrong_role",
  "locked",
  "generation_mismatch",
  "not_renewable",
  "bad_token",
  "attestation_failed",
  "rate_limited",
];

export type BackendOp =
  | "get"
  | "create"
  | "put"
  | "cas"
  | "delete"
  | "delete_cas"
  | "list"
  | "atomic"
  | "purge"
  | "count";

export type BackendResult = "ok" | "conflict" | "not_found" | "error";

/** The CA that signed a certificate or token, and what was issued (`kind`). */
export type CaName = "host" | "user" | "db" | "db_client" | "app" | "spiffe";
export type IssuedKind = "tls" | "ssh" | "jwt";

export interface AuthMetricsSink {
  join(method: string, outcome: Outcome): void;
  renewal(method: string, outcome: Outcome): void;
  denied(reason: DenialReason): void;
  request(route: string, method: string, status: number, seconds: number): void;
  backend(op: BackendOp, result: BackendResult, seconds: number): void;
  issued(ca: CaName, kind: IssuedKind): void;
}

let sink: AuthMetricsSink | undefined;

/** The installed sink, or undefined when tauth runs without --diag-addr. */
export function metricsSink(): AuthMetricsSink | undefined {
  return sink;
}

export function installMetricsSink(s: AuthMetricsSink | undefined): void {
  sink = s;
}

// --- denial reasons: tagged where the denial is decided ---

const reasons = new WeakMap<object, DenialReason>();

/** Marks `err` as a denial for `reason`; returns it (for `throw denial(accessDenied(…), "locked")`). */
export function denial<E extends Error>(err: E, reason: DenialReason): E {
  reasons.set(err, reason);
  return err;
}

/** The reason of a tagged denial, else one from the error's code (403, 429); undefined if no denial. */
export function denialReason(err: unknown): DenialReason | undefined {
  if (!(err instanceof UserError)) return undefined;
  const tagged = reasons.get(err);
  if (tagged) return tagged;
  if (err.code === "access_denied") return "access_denied";
  if (err.code === "limit_exceeded" && err.httpStatus === 429) return "rate_limited";
  return undefined;
}

const outcomeOfCode: Record<ErrorCode, Outcome> = {
  access_denied: "denied",
  not_found: "denied",
  bad_parameter: "invalid",
  already_exists: "conflict",
  compare_failed: "conflict",
  limit_exceeded: "rate_limited",
  connection_problem: "unavailable",
  not_implemented: "invalid",
  internal: "error",
};

/** The outcome of a join or renewal that threw `err` (undefined: it succeeded). */
export function outcomeOf(err?: unknown): Outcome {
  if (err === undefined) return "ok";
  if (!(err instanceof UserError)) return "error";
  return outcomeOfCode[err.code] ?? "error";
}

/** The backend result of an operation that threw `err` (undefined: it succeeded). */
export function backendResultOf(err?: unknown): BackendResult {
  if (err === undefined) return "ok";
  if (err instanceof UserError) {
    if (err.code === "compare_failed" || err.code === "already_exists") return "conflict";
    if (err.code === "not_found") return "not_found";
  }
  return "error";
}

/** Runs `f` and reports its outcome to `report` (when a sink is installed), passing on its result. */
export async function observed<T>(f: () => Promise<T>, report: (o: Outcome) => void): Promise<T> {
  try {
    const r = await f();
    report("ok");
    return r;
  } catch (e) {
    report(outcomeOf(e));
    throw e;
  }
}
