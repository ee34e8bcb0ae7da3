// The diagnostics side of the metrics e2e files: `promtool check metrics` on an exposition, a
// real Prometheus scraping one target, PromQL queries against it, and the /readyz body.

import { expect } from "bun:test";
import { join } from "node:path";
import { type FileScope, writeText } from "./extra.ts";
import { freePort, type Proc, run, startProcess } from "./proc.ts";

/** The JSON of /readyz: overall status and each service's (with its reason when unhealthy). */
export interface ReadyzSnapshot {
  status: string;
  services: Record<string, { status: string; reason?: string }>;
}

/**
 * `promtool check metrics` on the exposition `text` (written to `path` first): its exit code and
 * what it printed (stdout then stderr, trimmed; "" when it finds nothing); and the metric names
 * of the exposition's `# TYPE` and `# HELP` lines, each in order.
 */
export function checkExposition(
  path: string,
  text: string,
): { code: number; output: string; types: string[]; helps: string[] } {
  const file = writeText(path, text);
  const r = run(["sh", "-c", `promtool check metrics < ${file}`]);
  return {
    code: r.code,
    output: `${r.stdout}${r.stderr}`.trim(),
    types: [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!),
    helps: [...text.matchAll(/^# HELP (\S+) /gm)].map((m) => m[1]!),
  };
}

export type PromSample = { metric: Record<string, string>; value: [number, string] };

/** An instant PromQL query; the answer's status must be "success". */
export async function promQuery(base: string, q: string): Promise<PromSample[]> {
  const r = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(q)}`);
  const body = (await r.json()) as { status: string; data: { result: PromSample[] } };
  expect(body.status).toBe("success");
  return body.data.result;
}

/**
 * A real Prometheus (of this file's `scope`) scraping `target` every second as job `job`, its
 * TSDB in a directory of its own; then polled (every 250 ms, errors while it starts ignored)
 * until `query` has a sample or `timeoutMs` has passed. The process, its HTTP base URL, the
 * first sample's value and that of up{job="JOB"} (each "" when there was none).
 */
export async function startPrometheus(
  scope: FileScope,
  o: { job: string; target: string; query: string; timeoutMs?: number },
): Promise<{ proc: Proc; base: string; value: string; up: string }> {
  const port = await freePort();
  const dir = scope.tempDir("prometheus-");
  const cfg = writeText(
    join(dir, "prometheus.yml"),
    `global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: ${o.job}
    static_configs:
      - targets: ["${o.target}"]
`,
  );
  const proc = scope.proc(
    startProcess([
      "prometheus",
      `--config.file=${cfg}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ]),
  );
  const base = `http://127.0.0.1:${port}`;
  let value = "";
  let up = "";
  const deadline = Date.now() + (o.timeoutMs ?? 30_000);
  while (Date.now() < deadline) {
    try {
      value = (await promQuery(base, o.query))[0]?.value[1] ?? "";
      up = (await promQuery(base, `up{job="${o.job}"}`))[0]?.value[1] ?? "";
      if (value !== "") break;
    } catch {}
    await Bun.sleep(250);
  }
  return { proc, base, value, up };
}
