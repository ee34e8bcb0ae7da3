// Outputs on their own schedules, on the compiled binary: two identity outputs with different
// renewal_intervals renew at their own pace (the log's timestamps show it); an output whose
// exec fails, or hangs past its exec_timeout (killed with its process group), or whose write
// the server refuses, is reported by /readyz/<name> while the others keep renewing; a successful exec sees the files just written
// and only a minimal environment; one-shot runs every exec once and exits 1 if one failed.

import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { tbotBin } from "../harness/binary.ts";
import { addBot, count, fetchWhenUp, fileScope, until, writeText } from "../harness/extra.ts";
import { cleanupAfterFile, freePort, run, startProcess } from "../harness/proc.ts";
import type { TauthHandle } from "../harness/tauth.ts";

cleanupAfterFile();

const scope = fileScope();
let auth: TauthHandle;
let work: string;

beforeAll(async () => {
  auth = await scope.tauth();
  work = scope.tempDir("outputs-");
});

function head(token: string, data: string): string {
  return `version: v2
auth_server: ${auth.addr}
onboarding:
  join_method: token
  token: ${token}
  ca_pins: [${auth.pin}]
storage:
  type: directory
  path: ${data}
credential_ttl: 1m
renewal_interval: 30s
`;
}

function identity(name: string, extra: string): string {
  return `  - type: identity
    name: ${name}
    destination:
      type: directory
      path: ${join(work, `out-${name}`)}
${extra}`;
}

/** Timestamps (ms) of the "Generated output service:<name>" lines, in order. */
function renewals(log: string, name: string): number[] {
  const re = new RegExp(
    `^(\\S+) INFO  \\[TBOT\\] Generated output service:${name} type:identity next:(\\S+)$`,
    "gm",
  );
  return [...log.matchAll(re)].map((m) => Date.parse(m[1]!));
}

function gaps(ts: number[]): number[] {
  return ts.slice(1).map((t, i) => t - ts[i]!);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("per-output schedules and exec hooks", () => {
  test("two intervals, a failing exec, a hanging exec, an exec that reads the new files", async () => {
    const token = addBot(auth, "sched");
    const port = await freePort();
    const seen = join(work, "fast-seen.pem");
    const envFile = join(work, "fast-env");
    const hangPid = join(work, "hang.pid");
    const cfg = writeText(
      join(work, "sched.yaml"),
      `${head(token, join(work, "sched-data"))}services:
${identity(
  "fast",
  `    credential_ttl: 10s
    renewal_interval: 2s
    exec: ["/bin/sh", "-c", "cat \\"$TBOT_OUTPUT_DIR/tlscert\\" > ${seen}; env > ${envFile}; echo hello-from-exec"]
`,
)}${identity(
  "slow",
  `    credential_ttl: 20s
    renewal_interval: 5s
`,
)}${identity(
  "broken",
  `    credential_ttl: 10s
    renewal_interval: 3s
    exec: ["/bin/false"]
`,
)}${identity(
  "hangs",
  `    credential_ttl: 10s
    renewal_interval: 4s
    exec: ["/bin/sh", "-c", "echo $$ > ${hangPid}; sleep 60"]
    exec_timeout: 1s
`,
)}  - type: ssh_host
    name: denied
    principals: [h1.example.com]
    destination: {type: directory, path: ${join(work, "out-denied")}}
    credential_ttl: 10s
    renewal_interval: 2s
`,
    );
    const bot = scope.proc(
      startProcess([tbotBin, "start", "-c", cfg, "--diag-addr", `127.0.0.1:${port}`], {
        env: { TBOT_TEST_NOT_INHERITED: "secret-value" },
      }),
    );
    const base = `http://127.0.0.1:${port}`;
    await until(
      () => renewals(bot.output(), "fast").length >= 6 && renewals(bot.output(), "slow").length >= 3,
      "six renewals of fast and three of slow",
      40_000,
    );
    const log = bot.output();

    // Each output on its own interval: fast about every 2 s, slow about every 5 s.
    const fast = gaps(renewals(log, "fast"));
    const slow = gaps(renewals(log, "slow"));
    for (const g of fast) expect(g).toBeWithin(1900, 4000);
    for (const g of slow) expect(g).toBeWithin(4900, 7500);
    // "next" says when the output renews again: its interval after the line's own time.
    const line = /^(\S+) INFO {2}\[TBOT\] Generated output service:slow type:identity next:(\S+)$/m.exec(
      log,
    )!;
    expect(Date.parse(line[2]!) - Date.parse(line[1]!)).toBeWithin(4900, 5100);

    // The failing exec: written anyway, reported by /readyz/<name>, counted; the others renew on.
    const broken = await fetchWhenUp(`${base}/readyz/broken`);
    expect(broken.status).toBe(503);
    const b = (await broken.json()) as { status: string; reason: string };
    expect(b.status).toBe("unhealthy");
    expect(b.reason).toBe("exec failed: exec /bin/false exited with status 1");
    expect(existsSync(join(work, "out-broken", "tlscert"))).toBe(true);
    expect(log).toMatch(/WARN {2}\[TBOT\] Output exec failed;[^\n]* service:broken status:1 /);
    // broken keeps its own 3 s schedule: an exec failure is retried at the next renewal, not sooner.
    for (const g of gaps(renewals(log, "broken"))) expect(g).toBeWithin(2900, 5000);

    // A write the server refuses (the bot's role may not create host certificates): retried
    // with its own backoff, reported, and nothing written.
    const denied = (await (await fetch(`${base}/readyz/denied`)).json()) as {
      status: string;
      reason: string;
    };
    expect(denied.status).toBe("unhealthy");
    expect(denied.reason).toContain("may not create host certificates");
    expect(log).toMatch(
      /ERROR \[TBOT\] Renewal failed; keeping the last good outputs and retrying service:denied /,
    );
    expect(existsSync(join(work, "out-denied", "ssh_host"))).toBe(false);

    // The hanging exec: killed (its process group too) at exec_timeout.
    const hangs = (await (await fetch(`${base}/readyz/hangs`)).json()) as { status: string; reason: string };
    expect(hangs).toEqual({
      status: "unhealthy",
      reason: "exec failed: exec /bin/sh timed out after 1000ms and was killed",
    });
    const shPid = Number(readFileSync(hangPid, "utf8").trim());
    await until(() => !alive(shPid), "the hanging exec to be gone", 5_000);

    // The healthy ones, and /readyz overall unhealthy while one output is.
    expect(await (await fetch(`${base}/readyz/fast`)).json()).toEqual({ status: "healthy" });
    expect(await (await fetch(`${base}/readyz/slow`)).json()).toEqual({ status: "healthy" });
    const all = await fetch(`${base}/readyz`);
    expect(all.status).toBe(503);
    expect(((await all.json()) as { status: string }).status).toBe("unhealthy");
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^tbot_output_exec_total\{name="fast",result="ok"\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^tbot_output_exec_total\{name="broken",result="failed"\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^tbot_output_exec_total\{name="hangs",result="timeout"\} [1-9]\d*$/m);
    expect(metrics).toContain('tbot_service_healthy{name="broken"} 0');

    // fast renews on while broken and hangs fail.
    const before = renewals(bot.output(), "fast").length;
    await until(
      () => renewals(bot.output(), "fast").length >= before + 2,
      "two more renewals of fast",
      10_000,
    );
    expect(bot.output()).toMatch(
      /INFO {2}\[TBOT\] Output exec succeeded service:fast status:0 duration_ms:\d+ stdout:hello-from-exec/,
    );

    expect(await bot.stop()).toBe(0);
    // The exec ran after each write and saw the files just written: the last copy is the last certificate.
    expect(readFileSync(seen, "utf8")).toBe(readFileSync(join(work, "out-fast", "tlscert"), "utf8"));
    const env = readFileSync(envFile, "utf8");
    expect(env).toContain("TBOT_OUTPUT_NAME=fast\n");
    expect(env).toContain("TBOT_OUTPUT_TYPE=identity\n");
    expect(env).toContain(`TBOT_OUTPUT_DIR=${join(work, "out-fast")}\n`);
    expect(env).not.toContain("TBOT_TEST_NOT_INHERITED");
  }, 90_000);

  test("one-shot: every output written, each exec run once, exit 1 when an exec failed", async () => {
    const token = addBot(auth, "once");
    const marker = join(work, "once-ran");
    const cfg = writeText(
      join(work, "once.yaml"),
      `${head(token, join(work, "once-data"))}oneshot: true
services:
${identity("once-ok", `    exec: ["/bin/sh", "-c", "echo ran >> ${marker}"]\n`)}${identity(
  "once-bad",
  `    exec: ["/bin/false"]\n`,
)}`,
    );
    const r = run([tbotBin, "start", "-c", cfg]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("once-bad: exec failed: exec /bin/false exited with status 1");
    expect(readFileSync(marker, "utf8")).toBe("ran\n");
    for (const n of ["once-ok", "once-bad"]) expect(existsSync(join(work, `out-${n}`, "tlscert"))).toBe(true);
    expect(count(/Generated output/, r.stderr)).toBe(2);
  }, 60_000);
});
