// tauth's Prometheus metrics with prom-client. Imported only when --diag-addr is set
// (start.ts), so tauth without a diagnostics listener never loads prom-client.
//
// With --workers N each worker process keeps its own registry; the primary asks each for it
// over IPC and serves their sum (aggregate below; workers.ts).

import {
  AggregatorRegistry,
  Counter,
  collectDefaultMetrics,
  Gauge,
  Histogram,
  type MetricObjectWithValues,
  type MetricValue,
  Registry,
} from "prom-client";
import { logger } from "../../util/log.ts";
import type { AuthMetricsSink } from "./observer.ts";

export interface AuthMetrics {
  readonly registry: Registry;
  readonly sink: AuthMetricsSink;
  render(): Promise<{ body: string; contentType: string }>;
}

/** The active bot instances gauge reads the backend at most this often (a COUNT query). */
export const INSTANCE_COUNT_CACHE_MS = 15_000;

logger("AUTH:DIAG").debug("Metrics module loaded (prom-client)");

export function createAuthMetrics(opts: {
  /** Live bot instances (one COUNT query); undefined when the backend cannot count. */
  countInstances?: () => Promise<number>;
  now?: () => number;
}): AuthMetrics {
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
  const now = opts.now ?? Date.now;

  const joins = new Counter({
    name: "tauth_joins_total",
    help: "Joins (POST /v1/join without a bot certificate), by join method and result.",
    labelNames: ["method", "result"],
    registers,
  });
  const renewals = new Counter({
    name: "tauth_renewals_total",
    help: "Renewals of bot identities, by join method and result: /v1/certs/renew (token) and re-joins presenting the bot's certificate (other methods).",
    labelNames: ["method", "result"],
    registers,
  });
  const denials = new Counter({
    name: "tauth_denials_total",
    help: "Requests refused (403, 429), by reason.",
    labelNames: ["reason"],
    registers,
  });
  const requests = new Histogram({
    name: "tauth_http_request_duration_seconds",
    help: "API request latency, by route pattern, HTTP method and status code.",
    labelNames: ["route", "method", "code"],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const backendOps = new Histogram({
    name: "tauth_backend_operation_duration_seconds",
    help: "Backend (storage) operation latency, by operation and result (ok, conflict, not_found, error).",
    labelNames: ["operation", "result"],
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  });
  const conflicts = new Counter({
    name: "tauth_backend_cas_conflicts_total",
    help: "Conditional backend writes that lost (compare_failed, already_exists), by operation.",
    labelNames: ["operation"],
    registers,
  });
  const issued = new Counter({
    name: "tauth_certificates_issued_total",
    help: "Certificates (and JWT-SVIDs) issued, by signing CA and kind (tls, ssh, jwt).",
    labelNames: ["ca", "kind"],
    registers,
  });
  let cached: { at: number; value: number } | undefined;
  const count = opts.countInstances;
  new Gauge({
    name: "tauth_bot_instances",
    help: `Bot instances in the backend (unexpired), read at most every ${INSTANCE_COUNT_CACHE_MS / 1000} s.`,
    registers,
    // Every worker counts the same backend: their sum would multiply it.
    aggregator: "max",
    async collect() {
      if (!count) return;
      if (!cached || now() - cached.at >= INSTANCE_COUNT_CACHE_MS) {
        try {
          cached = { at: now(), value: await count() };
        } catch (e) {
          logger("AUTH:DIAG").warn("Counting bot instances failed", { error: (e as Error).message });
          if (!cached) return;
        }
      }
      this.set(cached.value);
    },
  });

  const sink: AuthMetricsSink = {
    join: (method, result) => joins.inc({ method, result }),
    renewal: (method, result) => renewals.inc({ method, result }),
    denied: (reason) => denials.inc({ reason }),
    request: (route, method, status, seconds) =>
      requests.observe({ route, method, code: String(status) }, seconds),
    backend(operation, result, seconds) {
      backendOps.observe({ operation, result }, seconds);
      if (result === "conflict") conflicts.inc({ operation });
    },
    issued: (ca, kind) => issued.inc({ ca, kind }),
  };
  return {
    registry,
    sink,
    async render() {
      return { body: await registry.metrics(), contentType: registry.contentType };
    },
  };
}

/** What a worker sends its primary: its registry as JSON (Registry.getMetricsAsJSON). */
export type WorkerMetrics = MetricObjectWithValues<MetricValue<string>>[];

/** The workers' metrics as one exposition: counters and histograms summed (each metric's aggregator). */
export async function aggregateWorkerMetrics(
  perWorker: WorkerMetrics[],
): Promise<{ body: string; contentType: string }> {
  const reg = AggregatorRegistry.aggregate(perWorker);
  return { body: await reg.metrics(), contentType: reg.contentType };
}
