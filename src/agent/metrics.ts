// tbot's Prometheus metrics (reference §11.2) with prom-client. Imported only when diag_addr is
// set (src/cli/tbot.ts), so a one-shot run or a daemon without diagnostics never loads it.
//
// The reference's task metrics, by `service` (the output's type, "bot-identity" for the bot's
// own identity) and `name`; what the reference lacks: certificate expiry per output, the bot
// identity's expiry, the last successful renewal; the health and exec counts kept by Health;
// and prom-client's default process and runtime metrics.

import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { logger } from "../util/log.ts";
import { certificateExpiry } from "./cert-expiry.ts";
import type { Health, IterationObserver } from "./health.ts";

export { certificateExpiry };

export interface Metrics extends IterationObserver {
  readonly registry: Registry;
  /** Reads the health, exec counts and timestamps at each scrape. */
  attach(health: Health): void;
  /** The exposition text and its content type. */
  render(): Promise<{ body: string; contentType: string }>;
}

const taskLabels = ["service", "name"] as const;

// With -d: the sign that this module (and prom-client) was loaded, which a one-shot or a
// daemon without diag_addr never does (the e2e test checks it).
logger("TBOT:DIAG").debug("Metrics module loaded (prom-client)");

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // Gauges prom-client names with a _total suffix (promtool's lint refuses that); the
  // non-suffixed ones (nodejs_active_handles and the like) say the same.
  for (const n of [
    "nodejs_active_handles_total",
    "nodejs_active_requests_total",
    "nodejs_active_resources_total",
  ])
    registry.removeSingleMetric(n);
  const registers = [registry];
  let health: Health | undefined;

  const iterations = new Counter({
    name: "tbot_task_iterations_total",
    help: "Iterations (renewal runs) started, by service type and name.",
    labelNames: taskLabels,
    registers,
  });
  const successful = new Histogram({
    name: "tbot_task_iterations_successful",
    help: "Successful iterations; the observed value is the number of retries the iteration needed.",
    labelNames: taskLabels,
    buckets: [0, 1, 2, 3, 4, 5],
    registers,
  });
  // The reference's name (a counter without the _total suffix; promtool's lint says so).
  const failed = new Counter({
    name: "tbot_task_iterations_failed",
    help: "Iterations that failed after all their retries (5), or whose exec failed.",
    labelNames: taskLabels,
    registers,
  });
  const duration = new Histogram({
    name: "tbot_task_iteration_duration_seconds",
    help: "Duration of iterations, retries and their backoff included.",
    labelNames: taskLabels,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers,
  });
  const outputExpiry = new Gauge({
    name: "tbot_output_certificate_expiry_timestamp_seconds",
    help: "When the certificate last issued to an output expires (unix seconds).",
    labelNames: ["name"],
    registers,
  });
  new Gauge({
    name: "tbot_identity_expiry_timestamp_seconds",
    help: "When the bot's own identity (its TLS certificate) expires (unix seconds).",
    registers,
    collect() {
      this.reset();
      if (health?.identityExpiresAt !== undefined) this.set(health.identityExpiresAt / 1000);
    },
  });
  new Gauge({
    name: "tbot_last_successful_renewal_timestamp_seconds",
    help: "When a service last completed an iteration successfully (unix seconds).",
    labelNames: taskLabels,
    registers,
    collect() {
      this.reset();
      for (const [name, [service, at]] of health?.lastSuccess ?? []) this.set({ service, name }, at / 1000);
    },
  });
  new Gauge({
    name: "tbot_service_healthy",
    help: "Whether a service's last iteration succeeded (1) or not (0); /readyz has the reason.",
    labelNames: ["name"],
    registers,
    collect() {
      this.reset();
      for (const [name, s] of Object.entries(health?.snapshot().services ?? {}))
        this.set({ name }, s.status === "healthy" ? 1 : 0);
    },
  });
  new Counter({
    name: "tbot_output_exec_total",
    help: "Runs of an output's exec hook, by output and result (ok, failed, timeout).",
    labelNames: ["name", "result"],
    registers,
    collect() {
      this.reset();
      for (const [name, result, n] of health?.execCounts() ?? []) this.inc({ name, result }, n);
    },
  });

  return {
    registry,
    attach(h) {
      health = h;
    },
    async render() {
      return { body: await registry.metrics(), contentType: registry.contentType };
    },
    started(service, name) {
      iterations.inc({ service, name });
    },
    succeeded(service, name, retries, seconds) {
      successful.observe({ service, name }, retries);
      duration.observe({ service, name }, seconds);
    },
    failed(service, name, seconds) {
      failed.inc({ service, name });
      duration.observe({ service, name }, seconds);
    },
    issued(name, certs) {
      const at = certificateExpiry(certs);
      if (at !== undefined) outputExpiry.set({ name }, at / 1000);
    },
  };
}
