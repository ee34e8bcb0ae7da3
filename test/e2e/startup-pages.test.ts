// A daemon hands back the pages of its binary that only start-up used (src/agent/startup-pages.ts):
// once, after the first renewal's outputs and heartbeat; the process's RSS and the executable's
// resident pages drop, and the daemon goes on renewing and writing its outputs from the pages it
// faults back in. A one-shot run never does it. The figures are in bench/tbot-rss.ts.

import { beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, readFileSync, realpathSync, statSync } from "node:fs";
import { join } from "node:path";
import { mappingsOf } from "../../src/agent/startup-pages.ts";
import { tbotBin } from "../harness/binary.ts";
import { addBot, count, fileScope, until, writeText } from "../harness/extra.ts";
import { cleanupAfterFile, run, startProcess } from "../harness/proc.ts";
import type { TauthHandle } from "../harness/tauth.ts";

cleanupAfterFile();

const scope = fileScope();
let auth: TauthHandle;
let work: string;

beforeAll(async () => {
  auth = await scope.tauth();
  work = scope.tempDir("startup-pages-");
});

/** KiB of the executable's pages resident in process `pid` (smaps Rss of its file mappings). */
function executableRssKb(pid: number): number {
  const exe = realpathSync(`/proc/${pid}/exe`);
  let mine = false;
  let kb = 0;
  for (const line of readFileSync(`/proc/${pid}/smaps`, "utf8").split("\n")) {
    const m = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (m) mine = m[1] === exe;
    else if (mine && line.startsWith("Rss:")) kb += Number(line.split(/\s+/)[1]);
  }
  return kb;
}

function config(name: string, token: string): string {
  return writeText(
    join(work, `${name}.yaml`),
    `version: v2
auth_server: ${auth.addr}
onboarding: {join_method: token, token: ${token}, ca_pins: [${auth.pin}]}
storage: {type: directory, path: ${join(work, `${name}-data`)}}
credential_ttl: 1h
renewal_interval: 20m
services:
  - type: identity
    destination: {type: directory, path: ${join(work, `${name}-out`)}}
`,
  );
}

describe("start-up pages", () => {
  test("/proc/self/maps lines of the executable are found, a replaced one too, and nothing else", () => {
    const maps = [
      "00400000-00452000 r--p 00000000 08:02 173521      /usr/bin/tbot",
      "00452000-00c00000 r-xp 00052000 08:02 173521      /usr/bin/tbot",
      "00c00000-00c10000 rw-p 00800000 08:02 173521      /usr/bin/tbot (deleted)",
      "00c10000-00c20000 rw-p 00000000 00:00 0           [heap]",
      "7f0000000000-7f0000001000 r-xp 00000000 08:02 1 /usr/lib/x86_64-linux-gnu/libc.so.6",
      "7f0000002000-7f0000003000 r-xp 00000000 08:02 2 /usr/bin/tbot-other",
      "",
    ].join("\n");
    expect(mappingsOf(maps, "/usr/bin/tbot")).toEqual([
      [0x400000n, 0x452000n],
      [0x452000n, 0xc00000n],
      [0xc00000n, 0xc10000n],
    ]);
    expect(mappingsOf(maps, "/usr/bin/tb")).toEqual([]);
  });

  test("a daemon releases them once after its first renewal, and goes on renewing", async () => {
    const cfg = config("daemon", addBot(auth, "pages-daemon"));
    // tbot from a copy of the binary: the tauth here runs the same file, and pages two processes
    // map are never reclaimed (as with two daemons on one host).
    const tbotCopy = join(work, "tbot");
    copyFileSync(tbotBin, tbotCopy);
    chmodSync(tbotCopy, 0o755);
    const bot = scope.proc(startProcess([tbotCopy, "start", "-c", cfg, "--log-format", "json", "-d"]));
    const line = await bot.waitFor(
      /\{[^\n]*"message":"Released the start-up pages of the binary"[^\n]*\}/,
      30_000,
    );
    const released = JSON.parse(line) as { mappings: number; rss_before_kb: number; rss_after_kb: number };
    expect(released.mappings).toBeGreaterThan(0);
    // Without the release RSS would not move; with it, most of the binary's pages go at once
    // (about 35 MiB on this build; 10 MiB is a margin, not a figure).
    expect(released.rss_before_kb - released.rss_after_kb).toBeGreaterThan(10 * 1024);
    // From outside, as the kernel counts them: most of the executable's pages are out, fewer
    // remain resident than were just released.
    expect(executableRssKb(bot.pid)).toBeLessThan(released.rss_before_kb - released.rss_after_kb);

    // The daemon still works from the pages it faults back in: a reload renews and rewrites.
    const out = join(work, "daemon-out", "identity");
    const before = statSync(out).mtimeMs;
    const renewed = () => count(/"message":"(Fetched new|Renewed) bot identity"/g, bot.output());
    const heartbeats = () => count(/"message":"Heartbeat sent"/g, bot.output());
    const n = renewed();
    bot.proc.kill("SIGHUP");
    await until(() => renewed() > n && statSync(out).mtimeMs > before, "renewal after the release", 20_000);
    // Once only: a release after the second heartbeat would be logged before the third is sent.
    await until(() => heartbeats() >= 2, "the second heartbeat", 20_000);
    bot.proc.kill("SIGHUP");
    await until(() => heartbeats() >= 3, "the third heartbeat", 20_000);
    expect(count(/Released the start-up pages/g, bot.output())).toBe(1);
    expect(count(/Start-up pages not released/g, bot.output())).toBe(0);
    expect(await bot.stop()).toBe(0);
  }, 60_000);

  test("a one-shot run does not", () => {
    const cfg = config("oneshot", addBot(auth, "pages-oneshot"));
    const r = run([tbotBin, "start", "-c", cfg, "--oneshot", "-d"]);
    expect(r.code).toBe(0);
    expect(`${r.stdout}${r.stderr}`).toContain("One-shot mode: outputs written");
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/start-up pages/i);
  });
});
