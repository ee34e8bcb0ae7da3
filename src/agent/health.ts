// Per-service health for /readyz and heartbeats (reference §11.1), and what /metrics shows
// beside it. Nothing here loads prom-client: the counters and timestamps are plain fields, and
// the histograms are fed through an observer that src/agent/metrics.ts attaches only when
// diag_addr is set.

import type { ExecOutcome } from "./services/exec.ts";

export type Status = "initializing" | "healthy" | "unhealthy";

/** The reference's retry limit per iteration: after this many retries it counts as failed. */
export const ITERATION_RETRY_LIMIT = 5;

/** Receives iterations as they end (the metrics module; absent without diag_addr). */
export interface IterationObserver {
  started(service: string, name: string): void;
  succeeded(service: string, name: string, retries: number, seconds: number): void;
  failed(service: string, name: string, seconds: number): void;
  /** The certificates an output was just issued (PEM TLS and/or an SSH certificate line). */
  issued?(name: string, certs: { tls?: string; ssh?: string }): void;
}

export class Health {
  private readonly services = new Map<string, { status: Status; reason?: string }>();
  /** Runs of each output's exec, by "<name>\0<outcome>". */
  private readonly execRuns = new Map<string, number>();
  /** Service name → [service kind, unix ms of the last successful iteration]. */
  readonly lastSuccess = new Map<string, [string, number]>();
  /** Output name → the notAfter (unix ms) of the certificate last issued to it. */
  readonly outputExpiresAt = new Map<string, number>();
  /** The bot identity's TLS certificate's notAfter (unix ms), once there is one. */
  identityExpiresAt: number | undefined;
  observer: IterationObserver | undefined;

  register(name: string): void {
    this.services.set(name, { status: "initializing" });
  }
  set(name: string, status: Status, reason?: string): void {
    this.services.set(name, reason ? { status, reason: reason.slice(0, 256) } : { status });
  }
  overall(): Status {
    const all = [...this.services.values()].map((s) => s.status);
    if (all.includes("unhealthy")) return "unhealthy";
    if (all.includes("initializing")) return "initializing";
    return "healthy";
  }
  get(name: string) {
    return this.services.get(name);
  }
  /** The reference's /readyz body: `{status, services: {<name>: {status, reason?}}}`. */
  snapshot() {
    return { status: this.overall(), services: Object.fromEntries(this.services) };
  }
  countExec(name: string, outcome: ExecOutcome): void {
    const k = `${name}\0${outcome}`;
    this.execRuns.set(k, (this.execRuns.get(k) ?? 0) + 1);
  }
  /** [output name, outcome, runs], for tbot_output_exec_total. */
  execCounts(): [string, ExecOutcome, number][] {
    return [...this.execRuns].map(([k, n]) => {
      const [name, outcome] = k.split("\0") as [string, ExecOutcome];
      return [name, outcome, n];
    });
  }
  /** Tracks one service's iterations (attempts and retries) for the task metrics. */
  iterations(service: string, name: string): Iterations {
    return new Iterations(this, service, name);
  }
}

/**
 * One service's iterations as the reference counts them: an iteration starts with its first
 * attempt and ends with a success (observed with its number of retries) or, after
 * ITERATION_RETRY_LIMIT retries, a failure; the next attempt then starts a new iteration. The
 * daemon itself keeps retrying with backoff: this only shapes what the metrics say.
 */
export class Iterations {
  private retries = -1;
  private startedAt = 0;
  constructor(
    private readonly health: Health,
    readonly service: string,
    readonly name: string,
  ) {}
  /** Before each attempt. */
  attempt(): void {
    if (this.retries >= 0) return;
    this.retries = 0;
    this.startedAt = performance.now();
    this.health.observer?.started(this.service, this.name);
  }
  succeeded(): void {
    this.health.lastSuccess.set(this.name, [this.service, Date.now()]);
    this.health.observer?.succeeded(this.service, this.name, Math.max(0, this.retries), this.seconds());
    this.retries = -1;
  }
  /** A failed attempt; `final` ends the iteration at once (a failure a retry would not fix). */
  failed(final = false): void {
    if (final || this.retries >= ITERATION_RETRY_LIMIT) {
      this.health.observer?.failed(this.service, this.name, this.seconds());
      this.retries = -1;
    } else this.retries++;
  }
  private seconds(): number {
    return (performance.now() - this.startedAt) / 1000;
  }
}
