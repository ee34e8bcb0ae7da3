// Rough edges a documentation review found, on the compiled binaries: a deleted token file
// must not lock a bot out, `tbot wait` and `tbot migrate` work, the three programs agree on
// exit codes, TBOT_DEBUG is read one way, ssh_host registrations outlive long renewal
// intervals, the PID file goes away at exit, and tauth survives SIGHUP.

import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { tauthBin, tbotBin, tctlBin } from "../harness/binary.ts";
import { bkArgs, botYaml, boundKeypairTokenYaml, tctlCreate } from "../harness/bound-keypair.ts";
import { addBot, fetchWhenUp, fileScope, instanceIds, legacyArgs, writeText } from "../harness/extra.ts";
import { cleanupAfterFile, freePort, run, startProcess } from "../harness/proc.ts";
import type { TauthHandle } from "../harness/tauth.ts";

cleanupAfterFile();

const scope = fileScope();
let auth: TauthHandle;
let work: string;

beforeAll(async () => {
  auth = await scope.tauth();
  work = scope.tempDir("rough-edges-");
});

const instanceOf = (log: string) => /Fetched new bot identity identity:\S+ instance:(\S+)/.exec(log)?.[1];

describe("a token file deleted after the first join", () => {
  test("the bot keeps renewing its identity (same instance, exit 0); a token file with new content still re-joins", () => {
    const token = addBot(auth, "tokfile");
    const tokenFile = writeText(join(work, "tokfile.token"), `${token}\n`);
    const data = join(work, "tokfile-data");
    const cfg = writeText(
      join(work, "tokfile.yaml"),
      `version: v2
auth_server: ${auth.addr}
onboarding:
  join_method: token
  token: ${tokenFile}
  ca_pins: [${auth.pin}]
storage:
  type: directory
  path: ${data}
services:
  - type: identity
    destination:
      type: directory
      path: ${join(work, "tokfile-out")}
oneshot: true
`,
    );
    const start = () => run([tbotBin, "start", "-c", cfg]);

    const joined = start();
    expect(joined.stderr).not.toContain("ERROR");
    expect(joined.code).toBe(0);
    const id = instanceOf(joined.stderr)!;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);

    // The reference: "a temporary token file can be deleted after the first successful join".
    rmSync(tokenFile);
    for (const generation of [2, 3]) {
      const renewed = start();
      expect(renewed.stderr).not.toContain("ERROR");
      expect(renewed.stderr).not.toContain("differs from the one this identity was joined with");
      expect(renewed.stderr).not.toContain("Fetched new bot identity");
      expect(renewed.stderr).toContain(
        `Renewed bot identity identity:bot-tokfile instance:${id} generation:${generation}`,
      );
      expect(renewed.code).toBe(0);
    }
    expect(instanceIds(auth, "tokfile")).toEqual([id]);

    // A file at that path again, with another (new) token: that is a changed token.
    const next = JSON.parse(auth.tctl(["bots", "instances", "add", "tokfile", "--format=json"]).stdout)
      .token_name as string;
    writeFileSync(tokenFile, `${next}\n`);
    const rejoined = start();
    expect(rejoined.stderr).not.toContain("ERROR");
    expect(rejoined.code).toBe(0);
    expect(rejoined.stderr).toContain("differs from the one this identity was joined with");
    const id2 = instanceOf(rejoined.stderr)!;
    expect(id2).not.toBe(id);
    expect(instanceIds(auth, "tokfile").sort()).toEqual([id, id2].sort());
  });
});

describe("a bound_keypair token name read from a file deleted after the first join", () => {
  test("the bot keeps refreshing with the name it joined with (same instance, no recovery)", () => {
    tctlCreate(auth, join(work, "bkfile-bot.yaml"), botYaml("bkfile"));
    tctlCreate(
      auth,
      join(work, "bkfile-token.yaml"),
      boundKeypairTokenYaml("bkfile-token", "bkfile", { onboarding: ["registration_secret: bkfile-secret"] }),
    );
    const tokenFile = writeText(join(work, "bkfile.token"), "bkfile-token\n");
    const args = bkArgs(auth, {
      token: tokenFile,
      secret: "bkfile-secret",
      data: join(work, "bkfile-data"),
      dest: join(work, "bkfile-out"),
      extra: ["--oneshot"],
    });
    const joined = run(args);
    expect(joined.stderr).not.toContain("ERROR");
    expect(joined.code).toBe(0);
    const id = instanceOf(joined.stderr)!;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);

    rmSync(tokenFile);
    for (let i = 0; i < 2; i++) {
      const again = run(args);
      expect(again.stderr).not.toContain("ERROR");
      expect(again.stderr).toContain(`Renewed bot identity identity:bot-bkfile instance:${id}`);
      expect(again.code).toBe(0);
    }
    expect(instanceIds(auth, "bkfile")).toEqual([id]);
  });
});

describe("tbot wait and tbot migrate", () => {
  test("wait: exit 0 once the bot is ready; exit 1 for an unknown service or on timeout; exit 2 without --diag-addr", async () => {
    const token = addBot(auth, "waiter");
    const port = await freePort();
    const bot = scope.proc(
      startProcess([
        ...legacyArgs(auth, { data: join(work, "wait-data"), dest: join(work, "wait-out"), token }),
        "--diag-addr",
        `127.0.0.1:${port}`,
      ]),
    );
    const ready = run([tbotBin, "wait", "--diag-addr", `127.0.0.1:${port}`, "--timeout", "30s"]);
    expect(ready.stderr).toBe(`tbot is ready (http://127.0.0.1:${port}/readyz)\n`);
    expect(ready.code).toBe(0);
    await fetchWhenUp(`http://127.0.0.1:${port}/livez`);
    expect(run([tbotBin, "wait", "--diag-addr", `127.0.0.1:${port}`, "--service", "identity"]).code).toBe(0);

    const unknown = run([tbotBin, "wait", "--diag-addr", `127.0.0.1:${port}`, "--service", "nope"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('has no service named "nope"');
    expect(await bot.stop()).toBe(0);

    const nobody = await freePort();
    const timeout = run([tbotBin, "wait", "--diag-addr", `127.0.0.1:${nobody}`, "--timeout", "1s"]);
    expect(timeout.code).toBe(1);
    expect(timeout.stderr).toBe(
      `ERROR: tbot was not ready after 1s; last: nothing listens at 127.0.0.1:${nobody} (is tbot running with this diag_addr?)\n`,
    );
    const noAddr = run([tbotBin, "wait"]);
    expect(noAddr.code).toBe(2);
    expect(noAddr.stderr).toContain('"tbot wait" needs --diag-addr');
  }, 60_000);

  test("migrate: a v1 file is printed as v2 (that start reads without the migration warning); -o writes 0600; a v2 file is refused", () => {
    const v1 = writeText(
      join(work, "v1.yaml"),
      `auth_server: ${auth.addr}
onboarding:
  join_method: token
  token: some-token
destinations:
  - directory: /opt/machine-id
    configs: [ssh_client]
`,
    );
    const printed = run([tbotBin, "migrate", "-c", v1]);
    expect(printed.stderr).toBe("");
    expect(printed.code).toBe(0);
    expect(printed.stdout).toStartWith("# tbot config file generated by `migrate` command\n");
    expect(parseYaml(printed.stdout)).toEqual({
      version: "v2",
      auth_server: auth.addr,
      onboarding: { join_method: "token", token: "some-token" },
      storage: { type: "directory", path: "/var/lib/teleport/bot" },
      services: [{ type: "identity", destination: { type: "directory", path: "/opt/machine-id" } }],
    });

    const out = join(work, "v2.yaml");
    const written = run([tbotBin, "migrate", "-c", v1, "-o", out]);
    expect(written.code).toBe(0);
    expect(written.stderr).toBe(`Wrote the version v2 config to ${out}\n`);
    expect(readFileSync(out, "utf8")).toBe(printed.stdout);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const configured = run([tbotBin, "configure", "-c", out]);
    expect(configured.code).toBe(0);
    expect(configured.stderr).not.toContain("V1");

    const again = run([tbotBin, "migrate", "-c", out]);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(`ERROR: ${out} is already version v2; there is nothing to migrate\n`);
    const noFile = run([tbotBin, "migrate"], { env: { TBOT_CONFIG_PATH: "" } });
    expect(noFile.code).toBe(2);
  });
});

describe("exit codes agree across tbot, tctl and tauth", () => {
  test("no command: the usage on stderr (nothing on stdout), exit 2; help: stdout, exit 0", () => {
    for (const [bin, name] of [
      [tbotBin, "tbot"],
      [tctlBin, "tctl"],
      [tauthBin, "tauth"],
    ] as const) {
      const none = run([bin]);
      expect(none.code).toBe(2);
      expect(none.stdout).toBe("");
      expect(none.stderr).toStartWith(`Usage: ${name} `);
      expect(none.stderr.trimEnd().split("\n").at(-1)).toStartWith("ERROR: expected a command");
      const help = run([bin, "help"]);
      expect(help.code).toBe(0);
      expect(help.stdout).toStartWith(`Usage: ${name} `);
      expect(run([bin, "--help"]).code).toBe(0);
    }
  });

  test("an unknown command and an unknown flag are usage errors (exit 2) in all three", () => {
    for (const bin of [tbotBin, tctlBin, tauthBin]) {
      const r = run([bin, "frobnicate"]);
      expect(r.code).toBe(2);
      expect(r.stderr).toStartWith('ERROR: unknown command "frobnicate"');
    }
    const tauthFlag = run([tauthBin, "start", "--lisen", "x"]);
    expect(tauthFlag.code).toBe(2);
    expect(tauthFlag.stderr).toBe('ERROR: unknown flag --lisen (did you mean --listen?); see "tauth help"\n');
    expect(run([tauthBin, "admin-identity", "--oot", "x"]).code).toBe(2);
    expect(run([tauthBin, "install"]).code).toBe(2);
    expect(run([tbotBin, "start", "--tokn", "x"]).code).toBe(2);
    expect(run([tctlBin, "status", "--identty", "x"]).code).toBe(2);
  });

  test("tauth start --help prints the usage with start's flags (exit 0), not an unknown flag", () => {
    const r = run([tauthBin, "start", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("Flags for start:");
    expect(r.stdout).toContain("--conn-string");
  });
});

describe("TBOT_DEBUG", () => {
  test("a value that is not a boolean is a warning and false, for start as for every other command", () => {
    const token = addBot(auth, "debugenv");
    const r = run(
      [
        ...legacyArgs(auth, { data: join(work, "dbg-data"), dest: join(work, "dbg-out"), token }),
        "--oneshot",
      ],
      {
        env: { TBOT_DEBUG: "2" },
      },
    );
    expect(r.stderr).not.toContain("ERROR");
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(
      'TBOT_DEBUG="2" is not a boolean (use 1/true/yes/on or 0/false/no/off); treating it as false',
    );
    expect(r.stderr).not.toContain("DEBUG [");
    const configure = run([tbotBin, "configure", "--auth-server", auth.addr, "--token", "t"], {
      env: { TBOT_DEBUG: "2" },
    });
    expect(configure.code).toBe(0);
    expect(configure.stderr).toContain('WARNING: TBOT_DEBUG="2" is not a boolean');
    const help = run([tbotBin, "help"], { env: { TBOT_DEBUG: "maybe" } });
    expect(help.code).toBe(0);
    expect(help.stderr).toBe(
      'WARNING: TBOT_DEBUG="maybe" is not a boolean (use 1/true/yes/on or 0/false/no/off); treating it as false\n',
    );
    // "t" and "on" (once accepted by start and configure only) turn debug on for every command:
    // here the stack trace after an error; "2" does not.
    const failing = [tbotBin, "keypair", "create", "--storage", "/a", "--data-dir", "/b"];
    for (const v of ["t", "on", "1"]) {
      const r = run(failing, { env: { TBOT_DEBUG: v } });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/\n\s+at /);
    }
    const off = run(failing, { env: { TBOT_DEBUG: "2" } });
    expect(off.code).toBe(1);
    expect(off.stderr).not.toMatch(/\n\s+at /);
    expect(off.stderr).toContain('WARNING: TBOT_DEBUG="2" is not a boolean');
  });
});

describe("ssh_host node registrations", () => {
  test("last three renewal intervals (here 3h: 9h), not a fixed 2 hours", () => {
    const role = writeText(
      join(work, "host-role.yaml"),
      `kind: role
version: v7
metadata:
  name: host-registrar
spec:
  allow:
    rules:
      - resources: [host_cert]
        verbs: [create]
`,
    );
    expect(auth.tctl(["create", role]).code).toBe(0);
    const token = addBot(auth, "longhost", "host-registrar");
    const cfg = writeText(
      join(work, "longhost.yaml"),
      `version: v2
auth_server: ${auth.addr}
onboarding:
  join_method: token
  token: ${token}
  ca_pins: [${auth.pin}]
storage:
  type: directory
  path: ${join(work, "longhost-data")}
credential_ttl: 4h
renewal_interval: 3h
oneshot: true
services:
  - type: ssh_host
    principals: [longhost]
    ssh_address: 127.0.0.1:2222
    destination:
      type: directory
      path: ${join(work, "longhost-out")}
`,
    );
    const before = Date.now();
    const r = run([tbotBin, "start", "-c", cfg]);
    expect(r.stderr).not.toContain("ERROR");
    expect(r.code).toBe(0);
    const nodes = JSON.parse(auth.tctl(["nodes", "ls", "--format=json"]).stdout) as {
      metadata: { name: string; expires: string };
    }[];
    const node = nodes.find((n) => n.metadata.name === "longhost")!;
    const lifetime = Date.parse(node.metadata.expires) - before;
    // 9 hours from the registration (which came after `before`): more than the renewal interval.
    expect(lifetime).toBeGreaterThanOrEqual(9 * 3600_000);
    expect(lifetime).toBeLessThan(10 * 3600_000);
  });
});

describe("smaller ones", () => {
  test("the PID file is written at start and removed when tbot exits cleanly", async () => {
    const token = addBot(auth, "pidbot");
    const pidFile = join(work, "tbot.pid");
    const bot = scope.proc(
      startProcess([
        ...legacyArgs(auth, { data: join(work, "pid-data"), dest: join(work, "pid-out"), token }),
        "--pid-file",
        pidFile,
      ]),
    );
    await bot.waitFor(/Generated output/);
    expect(readFileSync(pidFile, "utf8")).toBe(`${bot.pid}\n`);
    expect(await bot.stop()).toBe(0);
    expect(existsSync(pidFile)).toBe(false);

    // One-shot too.
    const once = run([
      ...legacyArgs(auth, { data: join(work, "pid-data"), dest: join(work, "pid-out"), token }),
      "--oneshot",
      "--pid-file",
      pidFile,
    ]);
    expect(once.code).toBe(0);
    expect(existsSync(pidFile)).toBe(false);
  });

  test("keypair create refuses --storage with --data-dir, as start does", () => {
    const r = run([
      tbotBin,
      "keypair",
      "create",
      "--proxy-server",
      auth.addr,
      "--storage",
      join(work, "kp-a"),
      "--data-dir",
      join(work, "kp-b"),
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("ERROR: --data-dir and --storage both set the storage; use only one\n");
    expect(existsSync(join(work, "kp-a"))).toBe(false);
    expect(existsSync(join(work, "kp-b"))).toBe(false);
  });

  test("tauth survives SIGHUP: one log line, and it keeps serving", async () => {
    const other = await scope.tauth({ clusterName: "hup.test" });
    process.kill(other.proc.pid, "SIGHUP");
    await other.proc.waitFor(/SIGHUP received: tauth has nothing to reload and keeps serving/);
    expect(other.proc.proc.exitCode).toBeNull();
    expect(other.tctl(["status"]).code).toBe(0);
    expect(await other.stop()).toBe(0);
  });
});

describe("identity output settings this build cannot honour", () => {
  test("cluster naming another cluster fails that output in one line; naming this one works", () => {
    const cfg = (name: string, cluster: string) =>
      writeText(
        join(work, `${name}.yaml`),
        `version: v2
auth_server: ${auth.addr}
onboarding: {join_method: token, token: ${addBot(auth, name)}, ca_pins: [${auth.pin}]}
storage: {type: directory, path: ${join(work, `${name}-data`)}}
services:
  - type: identity
    cluster: ${cluster}
    destination: {type: directory, path: ${join(work, `${name}-out`)}}
`,
      );
    const status = auth.tctl(["status"]);
    const clusterName = /Cluster\s+(\S+)/.exec(status.stdout)?.[1] ?? "";
    expect(clusterName).not.toBe("");
    const leaf = run([tbotBin, "start", "-c", cfg("leafbot", "leaf.example.com"), "--oneshot"]);
    expect(leaf.code).toBe(1);
    expect(leaf.stderr).toContain(
      `ERROR: output failed: identity-1: cluster "leaf.example.com" is not this cluster ("${clusterName}") and this build has no leaf clusters; remove cluster or set it to "${clusterName}"`,
    );
    expect(existsSync(join(work, "leafbot-out", "identity"))).toBe(false);
    const own = run([tbotBin, "start", "-c", cfg("rootbot", clusterName), "--oneshot"]);
    expect({ code: own.code, stderr: own.code === 0 ? "" : own.stderr }).toEqual({ code: 0, stderr: "" });
    expect(existsSync(join(work, "rootbot-out", "identity"))).toBe(true);
  });
});
