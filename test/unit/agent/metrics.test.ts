// The metrics registry (src/agent/metrics.ts): the reference's task metrics by service and
// name as iterations end, the expiry and last-renewal gauges, the health and exec series read
// at scrape time, and an exposition promtool accepts but for the reference's own counter name.

import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Health, ITERATION_RETRY_LIMIT } from "../../../src/agent/health.ts";
import { certificateExpiry, createMetrics } from "../../../src/agent/metrics.ts";

function setup() {
  const metrics = createMetrics();
  const health = new Health();
  health.observer = metrics;
  metrics.attach(health);
  return { metrics, health };
}

/** The value of one sample line, by its name and labels as printed. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test("every metric has HELP and TYPE; the tbot ones are there with their types", async () => {
  const { metrics } = setup();
  const { body, contentType } = await metrics.render();
  expect(contentType).toContain("text/plain");
  const types = new Map([...body.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
  const helps = new Set([...body.matchAll(/^# HELP (\S+) /gm)].map((m) => m[1]!));
  expect(Object.fromEntries([...types].filter(([n]) => n.startsWith("tbot_")))).toEqual({
    tbot_task_iterations_total: "counter",
    tbot_task_iterations_successful: "histogram",
    tbot_task_iterations_failed: "counter",
    tbot_task_iteration_duration_seconds: "histogram",
    tbot_output_certificate_expiry_timestamp_seconds: "gauge",
    tbot_identity_expiry_timestamp_seconds: "gauge",
    tbot_last_successful_renewal_timestamp_seconds: "gauge",
    tbot_service_healthy: "gauge",
    tbot_output_exec_total: "counter",
  });
  for (const n of types.keys()) expect(helps.has(n)).toBe(true);
  expect(types.get("process_resident_memory_bytes")).toBe("gauge");
  expect(types.get("process_cpu_seconds_total")).toBe("counter");
  // prom-client's gauges named *_total are left out (promtool's lint refuses them).
  expect([...types.keys()].filter((n) => n.endsWith("_total") && types.get(n) !== "counter")).toEqual([]);
});

test("iterations: started, successes with their retries, failures after the retry limit or at once", async () => {
  const { metrics, health } = setup();
  const id = health.iterations("bot-identity", "identity");
  const out = health.iterations("identity", "web");
  // Three clean renewals of the identity.
  for (let i = 0; i < 3; i++) {
    id.attempt();
    id.succeeded();
  }
  // web: two failed attempts, then a success (one iteration, 2 retries).
  out.attempt();
  out.failed();
  out.attempt();
  out.failed();
  out.attempt();
  out.succeeded();
  // web: fails past the retry limit (one failed iteration), and the next attempt starts another.
  for (let i = 0; i <= ITERATION_RETRY_LIMIT; i++) {
    out.attempt();
    out.failed();
  }
  out.attempt();
  // An exec failure ends its iteration at once.
  out.failed(true);
  const { body } = await metrics.render();
  const l = (n: string) => `${n}{service="identity",name="web"}`;
  expect(sample(body, 'tbot_task_iterations_total{service="bot-identity",name="identity"}')).toBe(3);
  expect(sample(body, 'tbot_task_iterations_successful_count{service="bot-identity",name="identity"}')).toBe(
    3,
  );
  expect(sample(body, 'tbot_task_iterations_successful_sum{service="bot-identity",name="identity"}')).toBe(0);
  expect(sample(body, l("tbot_task_iterations_total"))).toBe(3);
  expect(sample(body, l("tbot_task_iterations_successful_count"))).toBe(1);
  expect(sample(body, l("tbot_task_iterations_successful_sum"))).toBe(2);
  expect(sample(body, 'tbot_task_iterations_successful_bucket{le="1",service="identity",name="web"}')).toBe(
    0,
  );
  expect(sample(body, 'tbot_task_iterations_successful_bucket{le="2",service="identity",name="web"}')).toBe(
    1,
  );
  expect(sample(body, l("tbot_task_iterations_failed"))).toBe(2);
  expect(sample(body, l("tbot_task_iteration_duration_seconds_count"))).toBe(3);
  expect(sample(body, 'tbot_task_iterations_failed{service="bot-identity",name="identity"}')).toBeUndefined();
  // The last success, by service and name.
  const last = sample(body, 'tbot_last_successful_renewal_timestamp_seconds{service="identity",name="web"}')!;
  expect(Math.abs(last - Date.now() / 1000)).toBeLessThan(5);
});

test("health, exec counts and the identity's expiry are read at scrape time", async () => {
  const { metrics, health } = setup();
  health.register("identity");
  health.register("web");
  health.set("identity", "healthy");
  health.set("web", "unhealthy", "exec failed: exec /bin/false exited with status 1");
  health.countExec("web", "failed");
  health.countExec("web", "failed");
  health.identityExpiresAt = 1_900_000_000_000;
  let { body } = await metrics.render();
  expect(sample(body, 'tbot_service_healthy{name="identity"}')).toBe(1);
  expect(sample(body, 'tbot_service_healthy{name="web"}')).toBe(0);
  expect(sample(body, 'tbot_output_exec_total{name="web",result="failed"}')).toBe(2);
  expect(sample(body, "tbot_identity_expiry_timestamp_seconds")).toBe(1_900_000_000);
  health.set("web", "healthy");
  health.countExec("web", "ok");
  ({ body } = await metrics.render());
  expect(sample(body, 'tbot_service_healthy{name="web"}')).toBe(1);
  expect(sample(body, 'tbot_output_exec_total{name="web",result="failed"}')).toBe(2);
  expect(sample(body, 'tbot_output_exec_total{name="web",result="ok"}')).toBe(1);
});

test("an output's certificate expiry comes from the certificate it was issued", async () => {
  const dir = mkdtempSync(join(tmpdir(), "metrics-"));
  try {
    const r = Bun.spawnSync([
      "openssl",
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      join(dir, "k.pem"),
      "-out",
      join(dir, "c.pem"),
      "-days",
      "2",
      "-subj",
      "/CN=web",
    ]);
    expect(r.exitCode).toBe(0);
    const pem = readFileSync(join(dir, "c.pem"), "utf8");
    const end = Bun.spawnSync(["openssl", "x509", "-in", join(dir, "c.pem"), "-noout", "-enddate"]);
    const notAfter = Date.parse(/notAfter=(.*)/.exec(end.stdout.toString())![1]!);
    expect(certificateExpiry({ tls: pem })).toBe(notAfter);
    expect(certificateExpiry({ tls: "not a certificate" })).toBeUndefined();
    const { metrics } = setup();
    metrics.issued!("web", { tls: pem });
    const { body } = await metrics.render();
    expect(sample(body, 'tbot_output_certificate_expiry_timestamp_seconds{name="web"}')).toBe(
      notAfter / 1000,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("promtool check metrics: only the reference's tbot_task_iterations_failed name is linted", async () => {
  if (!Bun.which("promtool")) return; // scripts/setup.sh installs Debian's prometheus
  const { metrics, health } = setup();
  health.register("identity");
  const it = health.iterations("identity", "web");
  it.attempt();
  it.failed(true);
  health.countExec("web", "ok");
  const { body } = await metrics.render();
  const p = Bun.spawnSync(["promtool", "check", "metrics"], { stdin: new TextEncoder().encode(body) });
  const problems = `${p.stdout}${p.stderr}`.trim().split("\n").filter(Boolean);
  expect(problems).toEqual(['tbot_task_iterations_failed counter metrics should have "_total" suffix']);
});
