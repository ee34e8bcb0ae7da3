// Diagnostics on the compiled binary (issue Part 11): /metrics passes `promtool check metrics`
// but for the reference's own counter name; a real Prometheus started here scrapes tbot and
// PromQL counts the renewals; a failing output turns /readyz 503 with its reason while the
// others stay healthy, and `tbot wait` exits 0 or 1 for them; `--log-format json` lines parse
// with jq, carry timestamp/level/component/message, and never a token, key or secret;
// prom-client is loaded only with diag_addr; a role revoked with `tctl bots update` turns the
// output that needed it unhealthy (503, its reason) while the identity output stays healthy.

import { beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { tbotBin } from "../harness/binary.ts";
import { bkArgs, botYaml, boundKeypairTokenYaml, tctlCreate } from "../harness/bound-keypair.ts";
import { APP_PROD_ROLE, grafanaApp } from "../harness/db-app.ts";
import { checkExposition, promQuery, type ReadyzSnapshot, startPrometheus } from "../harness/diag.ts";
import {
  addBot,
  count,
  fetchWhenUp,
  fileScope,
  tauthAndWorkDir,
  until,
  writeText,
  yamlDocs,
} from "../harness/extra.ts";
import { cleanupAfterFile, freePort, run, startProcess } from "../harness/proc.ts";
import type { TauthHandle } from "../harness/tauth.ts";
import { tokenJoinYaml } from "../harness/tbot-config.ts";

cleanupAfterFile();

const scope = fileScope();
let auth: TauthHandle;
let work: string;

beforeAll(async () => {
  ({ auth, work } = await tauthAndWorkDir(scope, { prefix: "tbot-metrics-" }));
});

const ALLOWED_LINT = 'tbot_task_iterations_failed counter metrics should have "_total" suffix';

/** Every line of a JSON log: parsed, and checked by jq as well. */
function jsonLines(text: string): Record<string, unknown>[] {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  const path = join(work, `log-${Date.now()}-${Math.random().toString(36).slice(2)}.jsonl`);
  writeText(path, `${lines.join("\n")}\n`);
  // jq reads the lines one by one; -e fails on the first line without the four fields.
  const jq = run([
    "jq",
    "-e",
    "-c",
    'has("timestamp") and has("level") and has("component") and has("message") and (.timestamp | test("^\\\\d{4}-\\\\d\\\\d-\\\\d\\\\dT"))',
    path,
  ]);
  expect(jq.stderr).toBe("");
  expect(jq.code).toBe(0);
  expect(jq.stdout.trim().split("\n")).toEqual(lines.map(() => "true"));
  return lines.map((l) => JSON.parse(l));
}

describe("tbot diagnostics", () => {
  test("metrics, Prometheus, /readyz, tbot wait and JSON logs on one daemon", async () => {
    const token = addBot(auth, "diagbot");
    const port = await freePort();
    const diag = `127.0.0.1:${port}`;
    const out = (n: string) => join(work, `out-${n}`);
    const cfg = writeText(
      join(work, "diag.yaml"),
      tokenJoinYaml(auth, {
        token,
        data: join(work, "data"),
        rest: `credential_ttl: 1h
renewal_interval: 20m
services:
  - type: identity
    name: ok
    destination: {type: directory, path: ${out("ok")}}
  - type: identity
    name: other
    destination: {type: directory, path: ${out("other")}}
  - type: identity
    name: broken
    destination: {type: directory, path: ${out("broken")}}
    exec: ["/bin/false"]
  - type: ssh_host
    name: denied
    principals: [h1.example.com]
    destination: {type: directory, path: ${out("denied")}}
`,
      }),
    );
    const bot = scope.proc(
      startProcess([tbotBin, "start", "-c", cfg, "--diag-addr", diag, "--log-format", "json", "-d"]),
    );
    const renewed = () => count(/"message":"(Fetched new|Renewed) bot identity"/g, bot.output());
    const generated = (name: string) =>
      count(new RegExp(`"message":"Generated output","service":"${name}"`, "g"), bot.output());
    const execFailed = () => count(/"message":"Output exec failed/g, bot.output());
    /** Identity renewed `n` times and every following output run as often (wakes coalesce). */
    const pass = (n: number) =>
      until(
        () => renewed() >= n && generated("ok") >= n && generated("other") >= n && execFailed() >= n,
        `pass ${n}`,
        20_000,
      );
    await pass(1);
    const base = `http://${diag}`;
    await fetchWhenUp(`${base}/livez`);

    // N reloads (SIGHUP): N+1 iterations of the bot identity and of the outputs that follow it.
    const N = 3;
    for (let i = 1; i <= N; i++) {
      bot.proc.kill("SIGHUP");
      await pass(i + 1);
    }

    // /metrics: promtool finds nothing but the reference's own counter name.
    const text = await (await fetch(`${base}/metrics`)).text();
    const check = checkExposition(join(work, "metrics.txt"), text);
    const problems = check.output.split("\n").filter(Boolean);
    expect(problems).toEqual([ALLOWED_LINT]);
    expect(check.helps).toEqual(check.types);
    expect(text).toContain(`tbot_task_iterations_total{service="bot-identity",name="identity"} ${N + 1}\n`);
    expect(text).toContain(`tbot_task_iterations_total{service="identity",name="ok"} ${N + 1}\n`);
    expect(text).toContain(`tbot_task_iterations_successful_count{service="identity",name="ok"} ${N + 1}\n`);
    expect(text).toContain(`tbot_task_iterations_failed{service="identity",name="broken"} ${N + 1}\n`);
    expect(text).toMatch(/^tbot_task_iteration_duration_seconds_count\{service="identity",name="ok"\} \d+$/m);
    expect(text).toMatch(/^tbot_output_exec_total\{name="broken",result="failed"\} [1-9]\d*$/m);
    // Expiry gauges: the output's certificate as issued, the identity's own; the last renewal.
    const okCert = join(out("ok"), "tlscert");
    const end = run(["openssl", "x509", "-in", okCert, "-noout", "-enddate"]).stdout;
    const okNotAfter = Date.parse(/notAfter=(.*)/.exec(end)![1]!) / 1000;
    expect(text).toContain(`tbot_output_certificate_expiry_timestamp_seconds{name="ok"} ${okNotAfter}\n`);
    const idExpiry = Number(/^tbot_identity_expiry_timestamp_seconds (\S+)$/m.exec(text)![1]);
    expect(idExpiry).toBeGreaterThan(Date.now() / 1000);
    const last = Number(
      /^tbot_last_successful_renewal_timestamp_seconds\{service="bot-identity",name="identity"\} (\S+)$/m.exec(
        text,
      )![1],
    );
    expect(Math.abs(last - Date.now() / 1000)).toBeLessThan(60);
    expect(text).toMatch(/^process_resident_memory_bytes \d+$/m);

    // A real Prometheus scrapes tbot; PromQL counts the renewals.
    const prom = await startPrometheus(scope, {
      job: "tbot",
      target: diag,
      query: 'tbot_task_iterations_total{service="bot-identity",name="identity"}',
    });
    expect(prom.up).toBe("1");
    expect(prom.value).toBe(String(N + 1));
    const byName = await promQuery(prom.base, "sum by (name) (tbot_task_iterations_total)");
    const counts = Object.fromEntries(byName.map((r) => [r.metric.name!, Number(r.value[1])]));
    expect(counts.identity).toBe(N + 1);
    expect(counts.ok).toBe(N + 1);
    expect(counts.other).toBe(N + 1);
    const failedQ = await promQuery(prom.base, 'tbot_task_iterations_failed{name="broken"}');
    expect(failedQ[0]?.value[1]).toBe(String(N + 1));
    expect(await prom.proc.stop()).toBe(0);

    // /readyz: unhealthy (503) while broken and denied fail, with their reasons; others healthy.
    const all = await fetch(`${base}/readyz`);
    expect(all.status).toBe(503);
    const snap = (await all.json()) as ReadyzSnapshot;
    expect(snap.status).toBe("unhealthy");
    expect(Object.keys(snap.services).sort()).toEqual(["broken", "denied", "identity", "ok", "other"]);
    expect(snap.services.ok).toEqual({ status: "healthy" });
    expect(snap.services.other).toEqual({ status: "healthy" });
    expect(snap.services.identity).toEqual({ status: "healthy" });
    expect(snap.services.broken).toEqual({
      status: "unhealthy",
      reason: "exec failed: exec /bin/false exited with status 1",
    });
    expect(snap.services.denied!.status).toBe("unhealthy");
    expect(snap.services.denied!.reason).toContain("may not create host certificates");
    const one = await fetch(`${base}/readyz/denied`);
    expect(one.status).toBe(503);
    expect(((await one.json()) as { reason: string }).reason).toContain("may not create host certificates");

    // tbot wait: 0 for a healthy service, 1 (after --timeout) for a failing one, naming its reason.
    const waitOk = run([tbotBin, "wait", "--diag-addr", diag, "--service", "ok", "--timeout", "5s"]);
    expect(waitOk.code).toBe(0);
    expect(waitOk.stderr).toContain('service "ok" is ready');
    const t0 = Date.now();
    const waitBad = run([tbotBin, "wait", "--diag-addr", diag, "--service", "broken", "--timeout", "2s"]);
    expect(waitBad.code).toBe(1);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1900);
    expect(waitBad.stderr).toContain("exec failed: exec /bin/false exited with status 1");
    const waitAll = run([tbotBin, "wait", "--diag-addr", diag, "--timeout", "1s"]);
    expect(waitAll.code).toBe(1);
    expect(waitAll.stderr).toContain("denied: unhealthy");
    expect(run([tbotBin, "wait", "--diag-addr", diag, "--service", "nope", "--timeout", "5s"]).code).toBe(1);

    expect(await bot.stop()).toBe(0);

    // JSON logs: every line parses (jq too), with the four fields; prom-client was loaded.
    const log = bot.output();
    const entries = jsonLines(log);
    expect(entries.some((e) => e.message === "Metrics module loaded (prom-client)")).toBe(true);
    expect(entries.some((e) => e.level === "DEBUG")).toBe(true);
    expect(entries.find((e) => e.message === "Generated output" && e.service === "ok")).toMatchObject({
      level: "INFO",
      component: "TBOT",
      type: "identity",
    });
    // No token (a single-use token is a secret), no private key written to the outputs or storage.
    expect(log).not.toContain(token);
    expect(log).not.toContain("PRIVATE KEY");
    for (const f of [join(out("ok"), "key"), join(work, "data", "key")]) {
      const body = readFileSync(f, "utf8")
        .split("\n")
        .filter((l) => l && !l.startsWith("-----"));
      for (const l of body) expect(log).not.toContain(l);
    }
  }, 120_000);

  test("one-shot with a registration secret: JSON logs without the secret; prom-client not loaded", async () => {
    const secret = `regsecret-${crypto.randomUUID()}`;
    tctlCreate(auth, join(work, "bk-bot.yaml"), botYaml("bk-bot"));
    tctlCreate(
      auth,
      join(work, "bk-token.yaml"),
      boundKeypairTokenYaml("bk-token", "bk-bot", { onboarding: [`registration_secret: ${secret}`] }),
    );
    const dest = join(work, "bk-out");
    const r = run([
      ...bkArgs(auth, { token: "bk-token", data: join(work, "bk-data"), dest, secret, extra: ["--oneshot"] }),
      "--log-format",
      "json",
      "-d",
    ]);
    expect(r.code).toBe(0);
    const entries = jsonLines(r.stderr);
    expect(entries.length).toBeGreaterThanOrEqual(3);
    expect(entries.some((e) => e.message === "Metrics module loaded (prom-client)")).toBe(false);
    expect(r.stderr).not.toContain(secret);
    expect(r.stderr).not.toContain("PRIVATE KEY");
    const key = readFileSync(join(dest, "key"), "utf8")
      .split("\n")
      .filter((l) => l && !l.startsWith("-----"));
    for (const l of key) expect(r.stderr).not.toContain(l);
    // A failing one-shot's error line is JSON too (the exit path), and still without the secret.
    const bad = run([
      ...bkArgs(auth, {
        token: "bk-token-missing",
        data: join(work, "bk-data2"),
        dest: join(work, "bk-out2"),
        secret,
        extra: ["--oneshot"],
      }),
      "--log-format",
      "json",
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).not.toContain(secret);
    // Its last line, the error it exits with, is JSON as well.
    const last = jsonLines(bad.stderr).at(-1)!;
    expect(last).toMatchObject({ level: "ERROR", component: "TBOT", exit: true });
    expect(String(last.message)).toContain("join token expired or not found");
  }, 60_000);

  test("a role revoked with tctl: that output's /readyz turns 503 with the reason, the others stay healthy; tbot wait 1/0", async () => {
    const resources = writeText(
      join(work, "app-resources.yaml"),
      yamlDocs(
        `kind: role
version: v7
metadata: {name: diag-base}
spec:
  allow:
    logins: [root]
`,
        APP_PROD_ROLE,
        grafanaApp(),
      ),
    );
    expect(auth.tctl(["create", resources]).code).toBe(0);
    const token = addBot(auth, "revokee", "diag-base,app-prod");
    const port = await freePort();
    const diag = `127.0.0.1:${port}`;
    const cfg = writeText(
      join(work, "revokee.yaml"),
      tokenJoinYaml(auth, {
        token,
        data: join(work, "revokee-data"),
        rest: `credential_ttl: 1h
renewal_interval: 20m
services:
  - type: identity
    name: web
    destination: {type: directory, path: ${join(work, "revokee-web")}}
  - type: application
    name: grafana
    app_name: grafana
    destination: {type: directory, path: ${join(work, "revokee-app")}}
`,
      }),
    );
    const bot = scope.proc(startProcess([tbotBin, "start", "-c", cfg, "--diag-addr", diag]));
    await bot.waitFor(/Generated output service:grafana/, 20_000);
    await bot.waitFor(/Generated output service:web/, 20_000);
    const base = `http://${diag}`;
    expect((await fetchWhenUp(`${base}/readyz`)).status).toBe(200);
    expect(run([tbotBin, "wait", "--diag-addr", diag, "--service", "grafana", "--timeout", "5s"]).code).toBe(
      0,
    );

    // Revoke app-prod (the only role allowing the app), then renew: the application output is refused, the identity output is not.
    const upd = auth.tctl(["bots", "update", "revokee", "--set-roles=diag-base"]);
    expect(upd.code).toBe(0);
    const mark = bot.output().length;
    bot.proc.kill("SIGHUP");
    await until(
      () =>
        /Renewal failed; keeping the last good outputs and retrying service:grafana /.test(
          bot.output().slice(mark),
        ),
      "the application output to fail",
      20_000,
    ).catch((e) => {
      throw new Error(`${e}\n${upd.stdout}\n${bot.output().slice(mark)}`);
    });
    await until(() => /Generated output service:web/.test(bot.output().slice(mark)), "web renewed", 20_000);
    const all = await fetch(`${base}/readyz`);
    expect(all.status).toBe(503);
    const snap = (await all.json()) as ReadyzSnapshot;
    expect(snap.status).toBe("unhealthy");
    expect(snap.services.web).toEqual({ status: "healthy" });
    expect(snap.services.identity).toEqual({ status: "healthy" });
    expect(snap.services.grafana!.status).toBe("unhealthy");
    expect(snap.services.grafana!.reason).toContain('no role allows app "grafana"');
    const one = await fetch(`${base}/readyz/grafana`);
    expect(one.status).toBe(503);
    const reason = ((await one.json()) as { reason: string }).reason;
    expect(reason).toBe(snap.services.grafana!.reason!);

    const waitWeb = run([tbotBin, "wait", "--diag-addr", diag, "--service", "web", "--timeout", "5s"]);
    expect(waitWeb.code).toBe(0);
    const waitApp = run([tbotBin, "wait", "--diag-addr", diag, "--service", "grafana", "--timeout", "2s"]);
    expect(waitApp.code).toBe(1);
    expect(waitApp.stderr).toContain(reason.slice(0, 40));
    expect(await bot.stop()).toBe(0);
  }, 60_000);
});
