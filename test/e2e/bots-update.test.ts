// A roleless bot, then `tctl bots update`, on the compiled binary against a real tauth and
// swtpm: the seed guides' `roles: []` bot joins and renews with `services: []` by token, bound
// keypair and TPM; an output for it fails naming the fix; `bots update` adds the role and the
// next run (same storage, no new token) writes the identity, `--set-logins` changes the next
// certificate's principals, bad updates are refused with the bot unchanged; `bots instances
// show` and `bots ls` report the instances.

import { beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { tbotBin } from "../harness/binary.ts";
import { expectOneErrorLine, newToken } from "../harness/extra.ts";
import { cleanupAfterFile, type RunResult, run, tempDir } from "../harness/proc.ts";
import { createSwtpmCa, type SwtpmHandle, startSwtpm } from "../harness/swtpm.ts";
import { startTauth, type TauthHandle } from "../harness/tauth.ts";

cleanupAfterFile();
setDefaultTimeout(60_000);

let auth: TauthHandle;
let tpm: SwtpmHandle;
let work: string;

function create(name: string, text: string, force = false) {
  const p = join(work, name);
  writeFileSync(p, text);
  const r = auth.tctl(["create", ...(force ? ["-f"] : []), p]);
  if (r.code !== 0) throw new Error(`tctl create ${name}: ${r.stderr}`);
}

/** A tbot.yaml v2 for `method`; `out` adds an identity output, otherwise `services: []`. */
function tbotYaml(dir: string, onboarding: string, out?: string): string {
  const p = join(dir, "tbot.yaml");
  const services = out
    ? `services:\n  - type: identity\n    destination:\n      type: directory\n      path: ${out}\n`
    : "services: []\n";
  writeFileSync(
    p,
    `version: v2
auth_server: ${auth.addr}
onboarding:
${onboarding}
  ca_pins: [${auth.pin}]
storage:
  type: directory
  path: ${join(dir, "data")}
${services}`,
  );
  return p;
}

interface Agent {
  dir: string;
  onboarding: string;
  env?: Record<string, string>;
  instance?: string;
}

function oneShot(a: Agent, out?: string): RunResult {
  const cfg = tbotYaml(a.dir, a.onboarding, out);
  return run([tbotBin, "start", "-c", cfg, "--oneshot"], a.env ? { env: a.env } : {});
}

/** A successful one-shot: no ERROR, exit 0; returns the instance it ran as. */
function expectOk(r: RunResult): string {
  expect(r.stderr).not.toContain("ERROR");
  expect(r.code).toBe(0);
  const m = /(?:Fetched new|Renewed) bot identity .*instance:(\S+)/.exec(r.stderr);
  expect(m).not.toBeNull();
  return m![1]!;
}

function principals(out: string): string[] {
  const r = run(["ssh-keygen", "-L", "-f", join(out, "key-cert.pub")]);
  expect(r.code).toBe(0);
  const block = /Principals:\s*\n((?:\s{16,}\S+\n)+)/.exec(r.stdout)?.[1] ?? "";
  return block
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .sort();
}

const botJson = () => JSON.parse(auth.tctl(["get", "bot/example", "--format=json"]).stdout)[0];

const bk: Agent = { dir: "", onboarding: "" };
const viaTpm: Agent = { dir: "", onboarding: "" };
const viaToken: Agent = { dir: "", onboarding: "" };

beforeAll(async () => {
  work = tempDir("bots-update-");
  auth = await startTauth({ clusterName: "update.test" });
  tpm = await startSwtpm({ ca: createSwtpmCa() });
  // The seed guides' roleless bot, and a role whose logins come from the bot's logins trait.
  create("bot.yaml", "kind: bot\nversion: v1\nmetadata:\n  name: example\nspec:\n  roles: []\n");
  create(
    "access.yaml",
    'kind: role\nversion: v7\nmetadata:\n  name: access\nspec:\n  allow:\n    logins: ["{{internal.logins}}", ci]\n',
    true,
  );
  create(
    "bk-token.yaml",
    `kind: token
version: v2
metadata:
  name: example-bk
spec:
  roles: [Bot]
  join_method: bound_keypair
  bot_name: example
  bound_keypair:
    onboarding:
      registration_secret: example-secret
    recovery:
      mode: standard
      limit: 1
`,
  );
  const id = run([tbotBin, "tpm", "identify"], { env: { TBOT_TPM_TCTI: tpm.tcti } });
  const ekHash = /EKPub Hash: ([0-9a-f]{64})/.exec(id.stdout)![1]!;
  create(
    "tpm-token.yaml",
    `kind: token
version: v2
metadata:
  name: example-tpm
spec:
  roles: [Bot]
  join_method: tpm
  bot_name: example
  tpm:
    allow:
      - ek_public_hash: "${ekHash}"
`,
  );
  Object.assign(bk, {
    dir: tempDir("bk-"),
    onboarding:
      "  join_method: bound_keypair\n  token: example-bk\n  bound_keypair:\n    registration_secret: example-secret",
  });
  Object.assign(viaTpm, {
    dir: tempDir("tpm-"),
    onboarding: "  join_method: tpm\n  token: example-tpm",
    env: { TBOT_TPM_TCTI: tpm.tcti },
  });
  Object.assign(viaToken, {
    dir: tempDir("tok-"),
    onboarding: `  join_method: token\n  token: ${newToken(auth, "example")}`,
  });
});

describe("a roleless bot", () => {
  test("a. joins and renews with services: [] by bound keypair, TPM and token (exit 0, same instance)", () => {
    expect(botJson().spec?.roles ?? []).toEqual([]);
    for (const agent of [bk, viaTpm, viaToken]) {
      const first = oneShot(agent);
      agent.instance = expectOk(first);
      expect(first.stderr).toContain("Fetched new bot identity");
      expect(first.stderr).toContain("identity saved; no outputs configured");
      const again = oneShot(agent);
      expect(expectOk(again)).toBe(agent.instance);
      expect(again.stderr).toContain("Renewed bot identity");
    }
    const methods = [bk, viaTpm, viaToken].map((a) => {
      const r = auth.tctl(["bots", "instances", "show", `example/${a.instance}`, "--format=json"]);
      expect(r.code).toBe(0);
      return JSON.parse(r.stdout).join_method;
    });
    expect(methods).toEqual(["bound_keypair", "tpm", "token"]);
  });

  test("e. an identity output for it fails in one ERROR line naming tctl bots update", () => {
    const out = join(bk.dir, "out");
    const r = oneShot(bk, out);
    expect(r.code).not.toBe(0);
    const errors = r.stderr.split("\n").filter((l) => l.startsWith("ERROR:"));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('bot "example" has no roles to impersonate');
    expect(errors[0]).toContain("tctl bots update example --add-roles=<role>");
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(join(out, "key-cert.pub"))).toBe(false);
  });

  test("d. bots update with an unknown role is refused, names the role, and changes nothing", () => {
    const before = botJson();
    const r = auth.tctl(["bots", "update", "example", "--add-roles=access,nope", "--add-logins=root"]);
    expect(expectOneErrorLine(r)).toBe('ERROR: role "nope" does not exist; create it first with tctl create');
    expect(r.stdout).toBe("");
    expect(botJson()).toEqual(before);
    expect(auth.auditLog().some((e) => e.event === "bot.update")).toBe(false);
    // The other refusals, each one line, none reaching the bot.
    const refusals: [string[], string][] = [
      [["bots", "update", "ghost", "--add-roles=access"], 'bot "ghost" not found'],
      [["bots", "update", "example"], "use one or more of --add-roles, --set-roles"],
      [["bots", "update", "example", "--add-roles=access", "--set-roles=access"], "cannot be used together"],
      [["bots", "update", "example", "--set-max-session-ttl=soon"], 'invalid duration "soon"'],
      [["bots", "update", "example", "--set-max-session-ttl=200h"], "at most 168h"],
    ];
    for (const [args, message] of refusals) expect(expectOneErrorLine(auth.tctl(args))).toContain(message);
    expect(botJson()).toEqual(before);
  });

  test("b. bots update --add-roles: the next run (same storage, no new token) writes the identity", () => {
    const r = auth.tctl(["bots", "update", "example", "--add-roles=access", "--add-logins=root"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toStartWith(
      'Bot "example" has been updated. Roles: access; Logins: root; Max session TTL: 12h (default)\n',
    );
    expect(botJson().spec.roles).toEqual(["access"]);
    const event = auth.auditLog().find((e) => e.event === "bot.update");
    expect(event?.bot).toBe("example");
    expect(event?.changes).toEqual({
      roles: { from: [], to: ["access"] },
      logins: { from: [], to: ["root"] },
    });
    for (const agent of [bk, viaTpm]) {
      const out = join(agent.dir, "out");
      const run1 = oneShot(agent, out);
      expect(expectOk(run1)).toBe(agent.instance!);
      expect(run1.stderr).not.toContain("Fetched new bot identity");
      expect(principals(out)).toEqual(["ci", "root"]);
      const tls = new X509Certificate(readFileSync(join(out, "tlscert")));
      expect(tls.subject).toContain("bot-example");
    }
  });

  test("f. --set-logins and --set-max-session-ttl change the next certificate", () => {
    const r = auth.tctl([
      "bots",
      "update",
      "example",
      "--set-logins=ubuntu,deploy",
      "--set-max-session-ttl=30m",
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Logins: ubuntu,deploy; Max session TTL: 30m");
    const out = join(bk.dir, "out");
    expectOk(oneShot(bk, out));
    expect(principals(out)).toEqual(["ci", "deploy", "ubuntu"]);
    const tls = new X509Certificate(readFileSync(join(out, "tlscert")));
    const lifetimeMin = (Date.parse(tls.validTo) - Date.now()) / 60_000;
    expect(lifetimeMin).toBeLessThanOrEqual(30.5); // default credential_ttl is 1h
    // --format=json reports what changed; setting the same values again changes nothing.
    const same = auth.tctl(["bots", "update", "example", "--set-logins=ubuntu,deploy", "--format=json"]);
    expect(same.code).toBe(0);
    expect(JSON.parse(same.stdout)).toMatchObject({ bot: "example", changed: [] });
  });

  test("c. bots instances show prints the instance; an unknown one is one error line", () => {
    const r = auth.tctl(["bots", "instances", "show", `example/${bk.instance}`]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const version = run([tbotBin, "version"]).stdout.trim().split(/\s+/).pop()!.replace(/^v/, "");
    expect(r.stdout).toMatch(/^Bot:\s+example$/m);
    expect(r.stdout).toMatch(new RegExp(`^Instance ID:\\s+${bk.instance}$`, "m"));
    expect(r.stdout).toMatch(/^Join method:\s+bound_keypair$/m);
    expect(r.stdout).toMatch(/^Join token:\s+example-bk$/m);
    expect(r.stdout).toMatch(/^Joined at:\s+\d{4}-\d\d-\d\dT/m);
    expect(r.stdout).toMatch(/^Last renewal:\s+\d{4}-\d\d-\d\dT/m);
    expect(r.stdout).toMatch(/^Last seen:\s+\d{4}-\d\d-\d\dT/m);
    expect(r.stdout).toMatch(/^Generation:\s+[4-9]$/m); // joined, renewed, output failure, two outputs
    expect(r.stdout).toMatch(new RegExp(`^tbot version:\\s+${version.replace(/[.+]/g, "\\$&")}$`, "m"));
    expect(r.stdout).toMatch(new RegExp(`^Host name:\\s+${hostname()}$`, "m"));
    expect(r.stdout).toContain("Recent authentications (newest first):");
    expect(r.stdout).toMatch(/^\S+Z\s+bound_keypair\s+\d+\s+127\.0\.0\.1:\d+$/m);

    const json = JSON.parse(
      auth.tctl(["bots", "instances", "show", `example/${bk.instance}`, "--format=json"]).stdout,
    );
    expect(json).toMatchObject({
      bot_name: "example",
      instance_id: bk.instance,
      join_method: "bound_keypair",
    });
    expect(json.recent_authentications.length).toBeGreaterThan(1);
    expect(json.recent_authentications.length).toBeLessThanOrEqual(5);
    expect(json.recent_authentications[0].generation).toBe(json.generation);

    const missing = auth.tctl(["bots", "instances", "show", "example/00000000-0000-0000-0000-000000000000"]);
    expect(expectOneErrorLine(missing)).toContain(
      'bot instance "example/00000000-0000-0000-0000-000000000000" not found',
    );
    // The right id under another bot's name is not that bot's instance.
    expect(expectOneErrorLine(auth.tctl(["bots", "instances", "show", `other/${bk.instance}`]))).toContain(
      "not found",
    );
  });

  test("g. bots ls shows the instance count and when one was last seen; yaml/json stay resources", () => {
    const r = auth.tctl(["bots", "ls"]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^Bot\s+User\s+Roles\s+Instances\s+Last Seen$/);
    expect(r.stdout).toMatch(/^example\s+bot-example\s+access\s+3\s+\d{4}-\d\d-\d\dT\S+Z$/m);
    const json = JSON.parse(auth.tctl(["bots", "ls", "--format=json"]).stdout);
    expect(json).toHaveLength(1);
    expect(json[0]).toMatchObject({
      kind: "bot",
      metadata: { name: "example" },
      spec: { roles: ["access"] },
    });
    expect(auth.tctl(["bots", "ls", "--format=yaml"]).stdout).toContain("kind: bot\n");
  });
});
