// Heartbeats on the compiled binary: a daemon bot with two outputs, one failing (its exec is
// /bin/false), reports each output's health and expiry and its effective configuration with
// the join token removed; `tctl bots instances show` (text and JSON) and `ls` show them, and
// after the bot is killed the instance turns stale once twice its renewal interval has passed
// without a heartbeat. The token appears nowhere: not in tctl's output, not in tauth's files.

import { beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { tbotBin } from "../harness/binary.ts";
import { addBot, fileScope, instanceIds, tauthAndWorkDir, until, writeText } from "../harness/extra.ts";
import { startProcess } from "../harness/proc.ts";
import type { TauthHandle } from "../harness/tauth.ts";
import { tokenJoinYaml } from "../harness/tbot-config.ts";

setDefaultTimeout(90_000);

const scope = fileScope();
let auth: TauthHandle;
let work: string;

beforeAll(async () => {
  ({ auth, work } = await tauthAndWorkDir(scope, { prefix: "heartbeats-" }));
});

interface Summary {
  health: string;
  renewal_interval_seconds?: number;
  join_method: string;
  outputs?: { name: string; type: string; healthy: boolean; reason?: string; expires?: string }[];
  config?: string;
  version?: string;
  first_heartbeat_at?: string;
  first_version?: string;
  last_heartbeat_at?: string;
}

function show(ref: string, json: boolean): string {
  const r = auth.tctl(["bots", "instances", "show", ref, ...(json ? ["--format=json"] : [])]);
  if (r.code !== 0) throw new Error(`tctl bots instances show: ${r.stderr}`);
  return r.stdout;
}

function ls(bot: string): string {
  const r = auth.tctl(["bots", "instances", "ls", bot]);
  if (r.code !== 0) throw new Error(`tctl bots instances ls: ${r.stderr}`);
  return r.stdout;
}

/** Every file under `dir`, read as bytes (latin1 keeps every byte). */
function allFiles(dir: string): [string, string][] {
  const out: [string, string][] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    const st = statSync(p);
    if (st.isDirectory()) out.push(...allFiles(p));
    else if (st.isFile()) out.push([p, readFileSync(p).toString("latin1")]);
  }
  return out;
}

describe("bot instance heartbeats", () => {
  test("outputs' health and expiry, the redacted config, the Health column, stale after 2× the interval", async () => {
    const token = addBot(auth, "hbbot");
    const out = (n: string) => join(work, `out-${n}`);
    const cfg = writeText(
      join(work, "tbot.yaml"),
      tokenJoinYaml(auth, {
        token,
        data: join(work, "data"),
        rest: `credential_ttl: 1m
renewal_interval: 2s
services:
  - type: identity
    name: good
    destination: {type: directory, path: ${out("good")}}
  - type: identity
    name: bad
    destination: {type: directory, path: ${out("bad")}}
    exec: ["/bin/false"]
`,
      }),
    );
    const bot = scope.proc(startProcess([tbotBin, "start", "-c", cfg]));
    await bot.waitFor(/Output exec failed/, 30_000);
    await until(() => instanceIds(auth, "hbbot").length === 1, "the instance", 15_000);
    const ref = `hbbot/${instanceIds(auth, "hbbot")[0]}`;

    let s: Summary = { health: "", join_method: "" };
    await until(
      () => {
        s = JSON.parse(show(ref, true)) as Summary;
        return s.outputs?.length === 2 && !!s.outputs[0]?.expires && s.outputs[1]?.healthy === false;
      },
      "a heartbeat with both outputs' health",
      20_000,
    );
    const [good, bad] = s.outputs!;
    expect(good).toMatchObject({ name: "good", type: "identity", healthy: true });
    // Expires within the credential TTL (1m), in the future.
    const exp = Date.parse(good!.expires!);
    expect(exp).toBeGreaterThan(Date.now());
    expect(exp).toBeLessThanOrEqual(Date.now() + 70_000);
    expect(bad).toMatchObject({ name: "bad", type: "identity", healthy: false });
    expect(bad!.reason).toMatch(/false/);
    expect(s.health).toBe("1 failing");
    expect(s.renewal_interval_seconds).toBe(2);
    expect(s.join_method).toBe("token");
    expect(s.config).toContain("renewal_interval: 2s");
    expect(s.config).toContain("token: REDACTED");
    expect(s.config).toContain(out("bad"));

    // The first heartbeat stays as initial_heartbeat (without config) while later ones arrive.
    await until(
      () => {
        s = JSON.parse(show(ref, true)) as Summary;
        return !!s.first_heartbeat_at && s.first_heartbeat_at !== s.last_heartbeat_at;
      },
      "a later heartbeat",
      20_000,
    );
    expect(Date.parse(s.first_heartbeat_at!)).toBeLessThan(Date.parse(s.last_heartbeat_at!));
    expect(s.first_version).toBe(s.version!);
    const raw = auth.tctl(["get", `bot_instance/${ref.split("/")[1]}`, "--format=json"]);
    expect(raw.code).toBe(0);
    const [stored] = JSON.parse(raw.stdout) as {
      status: { initial_heartbeat: { recorded_at: string; is_startup: boolean; config?: string } };
    }[];
    expect(stored!.status.initial_heartbeat).toMatchObject({
      recorded_at: s.first_heartbeat_at,
      is_startup: true,
    });
    expect(stored!.status.initial_heartbeat.config).toBeUndefined();

    const text = show(ref, false);
    expect(text).toMatch(/First heartbeat:\s+\d{4}-\d\d-\d\dT\S+ \(tbot \S+\)/);
    expect(text).toMatch(/good\s+identity\s+healthy\s+\d{4}-\d\d-\d\dT/);
    expect(text).toMatch(/bad\s+identity\s+unhealthy\s+.*false/);
    expect(text).toContain("Effective configuration (secrets removed):");
    expect(text).toContain("token: REDACTED");
    expect(text).toMatch(/Health:\s+1 failing/);

    const table = ls("hbbot");
    expect(table.split("\n")[0]).toMatch(
      /Bot\s+Instance ID\s+Join Method\s+Generation\s+Last Seen\s+Version\s+Health/,
    );
    expect(table).toContain("1 failing");

    // The join token is nowhere: tctl's outputs, the JSON, tauth's data directory (database and all).
    for (const o of [text, JSON.stringify(s), table, show(ref, true)]) expect(o).not.toContain(token);
    const leaks = allFiles(auth.dataDir)
      .filter(([, body]) => body.includes(token))
      .map(([p]) => p);
    expect(leaks).toEqual([]);

    // Killed: no more heartbeats; stale once 2 × 2s have passed by the cluster's clock.
    await bot.stop("SIGKILL");
    const killedAt = Date.now();
    await until(() => ls("hbbot").includes("stale"), "the instance shown stale", 15_000);
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(2_000);
    expect((JSON.parse(show(ref, true)) as Summary).health).toBe("stale");
    expect(show(ref, false)).toMatch(/Health:\s+stale/);
  });
  test("an output on its own schedule turning unhealthy between renewals is reported at once", async () => {
    const token = addBot(auth, "hbflip");
    const flag = join(work, "flip-flag");
    const cfg = writeText(
      join(work, "flip.yaml"),
      tokenJoinYaml(auth, {
        token,
        data: join(work, "flip-data"),
        rest: `credential_ttl: 2h
renewal_interval: 1h
services:
  - type: identity
    name: flip
    renewal_interval: 1s
    credential_ttl: 1m
    destination: {type: directory, path: ${join(work, "out-flip")}}
    exec: ["/bin/sh", "-c", "test ! -e ${flag}"]
`,
      }),
    );
    const bot = scope.proc(startProcess([tbotBin, "start", "-c", cfg]));
    await bot.waitFor(/Output exec succeeded/, 30_000);
    await until(() => instanceIds(auth, "hbflip").length === 1, "the instance", 15_000);
    const ref = `hbflip/${instanceIds(auth, "hbflip")[0]}`;
    await until(() => (JSON.parse(show(ref, true)) as Summary).health === "healthy", "healthy", 20_000);
    writeText(flag, "x");
    // The bot renews hourly: only the change itself can have sent this heartbeat.
    await until(() => ls("hbflip").includes("1 failing"), "the failure reported", 15_000);
    const s = JSON.parse(show(ref, true)) as Summary;
    expect(s.outputs?.[0]).toMatchObject({ name: "flip", healthy: false });
    await bot.stop("SIGKILL");
  });
});
