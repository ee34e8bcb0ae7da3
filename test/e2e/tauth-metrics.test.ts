// tauth's metrics on the compiled binary (issue Part 11): `tauth start --diag-addr` serves
// /metrics, /healthz and /readyz over plain HTTP; after token joins, renewals and a join with a
// bad token the counters say so exactly; `promtool check metrics` finds nothing wrong; a real
// Prometheus started here scrapes the listener and PromQL counts the joins. Without
// --diag-addr nothing listens and prom-client is never loaded.

import { beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { checkExposition, promQuery, startPrometheus } from "../harness/diag.ts";
import {
  addBot,
  count,
  fetchWhenUp,
  fileScope,
  legacyArgs,
  oneShot,
  tauthAndWorkDir,
  until,
} from "../harness/extra.ts";
import { cleanupAfterFile, freePort, startProcess } from "../harness/proc.ts";
import type { TauthHandle } from "../harness/tauth.ts";

cleanupAfterFile();

const scope = fileScope();
let auth: TauthHandle;
let work: string;
let diag: string;

beforeAll(async () => {
  diag = `127.0.0.1:${await freePort()}`;
  ({ auth, work } = await tauthAndWorkDir(scope, {
    prefix: "tauth-metrics-",
    tauth: { extraArgs: ["--diag-addr", diag, "-d"] },
  }));
});

/** The value of one sample line `name{labels} value` (labels exactly as written), else undefined. */
function sample(text: string, series: string): number | undefined {
  for (const line of text.split("\n"))
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  return undefined;
}

describe("tauth diagnostics", () => {
  test("joins, renewals and denials counted; promtool-clean; Prometheus scrapes them", async () => {
    const base = `http://${diag}`;
    await fetchWhenUp(`${base}/healthz`);
    expect(auth.proc.output()).toContain("Metrics module loaded (prom-client)");
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { status: string }).status).toBe("ready");
    expect((await fetch(`${base}/nope`)).status).toBe(404);

    // N one-shot token joins, each a fresh bot.
    const N = 3;
    for (let i = 0; i < N; i++) {
      const token = addBot(auth, `mbot${i}`);
      const r = oneShot(auth, { data: join(work, `d${i}`), dest: join(work, `o${i}`), token });
      expect(r.code).toBe(0);
    }
    // One join with a token that does not exist: denied (bad_token).
    const bad = oneShot(auth, {
      data: join(work, "bad"),
      dest: join(work, "bad-out"),
      token: "no-such-token",
    });
    expect(bad.code).not.toBe(0);

    // A daemon: one more join, then R renewals (SIGHUP renews at once).
    const token = addBot(auth, "mdaemon");
    const bot = scope.proc(
      startProcess(legacyArgs(auth, { data: join(work, "dd"), dest: join(work, "do"), token })),
    );
    const renewed = () => count(/(Fetched new|Renewed) bot identity/g, bot.output());
    await until(() => renewed() >= 1, "the daemon's first identity", 20_000);
    const R = 2;
    for (let i = 1; i <= R; i++) {
      bot.proc.kill("SIGHUP");
      await until(() => renewed() >= i + 1, `renewal ${i}`, 20_000);
    }
    await bot.stop();
    const audit = auth.auditLog();
    const renewals = audit.filter((e) => e.event === "cert.renew").length;
    expect(renewals).toBeGreaterThanOrEqual(R);
    const joins = N + 1;

    const text = await (await fetch(`${base}/metrics`)).text();
    const check = checkExposition(join(work, "metrics.txt"), text);
    // Nothing at all: every tauth counter ends in _total, every metric has HELP and TYPE.
    expect(check.output).toBe("");
    expect(check.code).toBe(0);
    expect(check.helps).toEqual(check.types);

    expect(sample(text, 'tauth_joins_total{method="token",result="ok"}')).toBe(joins);
    expect(sample(text, 'tauth_joins_total{method="token",result="denied"}')).toBe(1);
    expect(sample(text, 'tauth_renewals_total{method="token",result="ok"}')).toBe(renewals);
    expect(sample(text, 'tauth_denials_total{reason="bad_token"}')).toBe(1);
    expect(sample(text, "tauth_bot_instances")).toBe(joins);
    // Route patterns only; the join route saw every join.
    expect(
      sample(text, 'tauth_http_request_duration_seconds_count{route="/v1/join",method="POST",code="200"}'),
    ).toBe(joins);
    expect(
      sample(text, 'tauth_http_request_duration_seconds_count{route="/v1/join",method="POST",code="403"}'),
    ).toBe(1);
    for (const m of text.matchAll(/route="([^"]*)"/g)) expect(m[1]).toMatch(/^(\/[a-z0-9_./-]*|unmatched)$/);
    // Every join and renewal issued a user-CA TLS and SSH certificate (plus tctl's admin identity).
    expect(sample(text, 'tauth_certificates_issued_total{ca="user",kind="tls"}')).toBeGreaterThanOrEqual(
      joins + renewals,
    );
    expect(sample(text, 'tauth_certificates_issued_total{ca="user",kind="ssh"}')).toBeGreaterThanOrEqual(
      joins + renewals,
    );
    expect(text).toMatch(
      /^tauth_backend_operation_duration_seconds_count\{operation="get",result="ok"\} \d+$/m,
    );
    expect(text).toMatch(
      /^tauth_backend_operation_duration_seconds_count\{operation="cas",result="ok"\} \d+$/m,
    );
    expect(text).toMatch(/^process_resident_memory_bytes \d+$/m);

    // A real Prometheus scrapes the diagnostics listener; PromQL counts the joins.
    const prom = await startPrometheus(scope, {
      job: "tauth",
      target: diag,
      query: 'tauth_joins_total{method="token",result="ok"}',
    });
    expect(prom.up).toBe("1");
    expect(prom.value).toBe(String(joins));
    const denials = await promQuery(prom.base, "sum by (reason) (tauth_denials_total)");
    expect(Object.fromEntries(denials.map((r) => [r.metric.reason!, Number(r.value[1])]))).toEqual({
      bad_token: 1,
    });
    expect(await prom.proc.stop()).toBe(0);
  }, 120_000);

  test("--workers 2: the primary serves the workers' metrics summed", async () => {
    const waddr = `127.0.0.1:${await freePort()}`;
    const w = await scope.tauth({ extraArgs: ["--workers", "2", "--diag-addr", waddr] });
    expect(w.proc.output()).toMatch(/Diagnostics are listening.*workers:2/);
    const K = 8;
    for (let i = 0; i < K; i++) {
      const r = await fetch(`https://${w.addr}/v1/ping`, {
        tls: { rejectUnauthorized: false },
        keepalive: false,
      } as RequestInit);
      expect(r.status).toBe(200);
    }
    const ready = await fetch(`http://${waddr}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready", workers: 2 });
    const text = await (await fetch(`http://${waddr}/metrics`)).text();
    expect(
      sample(text, 'tauth_http_request_duration_seconds_count{route="/v1/ping",method="GET",code="200"}'),
    ).toBe(K);
    // The backend-wide gauge is not multiplied by the workers.
    expect(sample(text, "tauth_bot_instances")).toBe(0);
    expect(checkExposition(join(work, "metrics-workers.txt"), text).output).toBe("");
    expect(await w.stop()).toBe(0);
  }, 60_000);

  test("without --diag-addr: no listener, prom-client not loaded", async () => {
    const plain = await scope.tauth({ extraArgs: ["-d"] });
    expect(plain.proc.output()).not.toContain("Metrics module loaded");
    expect(plain.proc.output()).not.toContain("Diagnostics are listening");
  });
});
