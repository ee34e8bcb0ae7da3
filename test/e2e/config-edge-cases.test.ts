// Config edge cases on the compiled binary: relative paths as the reference's guides write
// them (resolved against the directory tbot starts in, printed as given by `tbot configure`),
// `ca_path: ""` beside ca_pins, and `tbot configure -c` refusing what `tbot start -c` refuses,
// with the same message and exit code.

import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, realpathSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "bun";
import { tbotBin } from "../harness/binary.ts";
import { cleanupAfterFile, tempDir } from "../harness/proc.ts";
import { startTauth, type TauthHandle } from "../harness/tauth.ts";

cleanupAfterFile();

let auth: TauthHandle;

beforeAll(async () => {
  auth = await startTauth();
});

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** tbot with `cwd` as its working directory; killed after `ms` so a wrong outcome cannot hang. */
function tbot(cwd: string, args: string[], ms = 30_000): Ran {
  const r = spawnSync([tbotBin, ...args], {
    cwd,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    timeout: ms,
  });
  return { code: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

function newToken(name: string): string {
  const r = auth.tctl(["bots", "add", name, "--roles=access", "--logins=root", "--format=json"]);
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout).token_id as string;
}

/** A fresh working directory, by its real path (what the child's process.cwd() reports). */
const workDir = (prefix: string) => realpathSync(tempDir(prefix));

function expectOutputsIn(dest: string, storage: string): void {
  for (const f of ["identity", "key", "tlscert", "ssh_config"])
    expect(statSync(join(dest, f)).isFile()).toBe(true);
  for (const f of ["tlscert", "tokenhash", "lock"]) expect(statSync(join(storage, f)).isFile()).toBe(true);
  // ssh_config must name the destination absolutely: ssh is not run from tbot's directory.
  const sshConfig = readFileSync(join(dest, "ssh_config"), "utf8");
  expect(sshConfig).toContain(`IdentityFile "${dest}/key"`);
  expect(sshConfig).toContain(`--destination-dir='${dest}'`);
}

describe("relative paths resolve against the working directory at start", () => {
  test("(a) legacy flags --destination-dir=./tbot-user --data-dir=./tbot-data", () => {
    const cwd = workDir("cfg-rel-flags-");
    const r = tbot(cwd, [
      "start",
      "--destination-dir=./tbot-user",
      "--data-dir=./tbot-data",
      `--token=${newToken("rel-flags")}`,
      "--join-method=token",
      `--auth-server=${auth.addr}`,
      `--ca-pin=${auth.pin}`,
      "--oneshot",
    ]);
    expect(r.stderr).not.toContain("ERROR");
    expect(r.code).toBe(0);
    expectOutputsIn(join(cwd, "tbot-user"), join(cwd, "tbot-data"));
    // Nothing landed where the test runner itself runs.
    expect(existsSync(join(process.cwd(), "tbot-user"))).toBe(false);
  });

  test("(b) a config file's path: ./tbot-user and storage path: ./tbot-data, against the cwd, not the file's directory", () => {
    const root = workDir("cfg-rel-file-");
    const etc = join(root, "etc");
    const cwd = join(root, "run");
    mkdirSync(etc);
    mkdirSync(cwd);
    const config = join(etc, "tbot.yaml");
    writeFileSync(
      config,
      `version: v2
auth_server: ${auth.addr}
onboarding:
  join_method: token
  token: ${newToken("rel-file")}
  ca_pins: [${auth.pin}]
storage:
  type: directory
  path: ./tbot-data
services:
  - type: identity
    destination:
      type: directory
      path: ./tbot-user
`,
    );
    const r = tbot(cwd, ["start", "-c", config, "--oneshot"]);
    expect(r.stderr).not.toContain("ERROR");
    expect(r.code).toBe(0);
    expectOutputsIn(join(cwd, "tbot-user"), join(cwd, "tbot-data"));
    expect(existsSync(join(etc, "tbot-user"))).toBe(false);
    expect(existsSync(join(etc, "tbot-data"))).toBe(false);
  });

  test("(b') the v1 form directory: ./x and --storage with a bare relative path", () => {
    const cwd = workDir("cfg-rel-v1-");
    writeFileSync(
      join(cwd, "tbot.yaml"),
      `auth_server: ${auth.addr}
onboarding: {join_method: token, token: ${newToken("rel-v1")}, ca_pins: [${auth.pin}]}
destinations:
  - directory: ./v1-out
`,
    );
    const r = tbot(cwd, ["start", "-c", "tbot.yaml", "--storage=./v1-data", "--oneshot"]);
    expect(r.stderr).not.toContain("ERROR");
    expect(r.code).toBe(0);
    expectOutputsIn(join(cwd, "v1-out"), join(cwd, "v1-data"));
  });

  test("(c) tbot configure prints the paths as given, and writes nothing", () => {
    const cwd = workDir("cfg-rel-configure-");
    const r = tbot(cwd, [
      "configure",
      "--destination-dir=./tbot-user",
      "--data-dir=./tbot-data",
      "--token=abc",
      "--join-method=token",
      `--auth-server=${auth.addr}`,
      `--ca-pin=${auth.pin}`,
    ]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("\nstorage:\n  type: directory\n  path: ./tbot-data\n");
    expect(r.stdout).toContain("      type: directory\n      path: ./tbot-user\n");
    expect(r.stdout).not.toContain(cwd);
    expect(existsSync(join(cwd, "tbot-user"))).toBe(false);
    expect(existsSync(join(cwd, "tbot-data"))).toBe(false);
  });

  test("an empty path is still refused, by configure and start alike", () => {
    const cwd = workDir("cfg-rel-empty-");
    for (const cmd of ["configure", "start"]) {
      const r = tbot(cwd, [
        cmd,
        "--data-dir=",
        `--auth-server=${auth.addr}`,
        "--token=t",
        `--ca-pin=${auth.pin}`,
      ]);
      expect(r.stderr).toBe("ERROR: --data-dir: the value is empty\n");
      expect(r.code).toBe(1);
    }
  });
});

test('(d) onboarding.ca_path: "" beside ca_pins is "not set": configure and start accept it', () => {
  const cwd = workDir("cfg-capath-");
  writeFileSync(
    join(cwd, "tbot.yaml"),
    `version: v2
auth_server: ${auth.addr}
onboarding:
  join_method: token
  token: ${newToken("ca-path-empty")}
  ca_pins: [${auth.pin}]
  ca_path: ""
storage: {type: directory, path: ./data}
services: [{type: identity, destination: {type: directory, path: ./out}}]
`,
  );
  const c = tbot(cwd, ["configure", "-c", "tbot.yaml"]);
  expect(c.stderr).toBe("");
  expect(c.code).toBe(0);
  expect(c.stdout).not.toContain("ca_path");
  const s = tbot(cwd, ["start", "-c", "tbot.yaml", "--oneshot"]);
  expect(s.stderr).not.toContain("ERROR");
  expect(s.code).toBe(0);
  expect(statSync(join(cwd, "out", "identity")).isFile()).toBe(true);
});

describe("(e) configure -c refuses what start -c refuses, with the same message and exit code", () => {
  const PIN = `sha256:${"ab".repeat(32)}`;
  // Nothing listens on port 1, and storage is in the test's directory: a config that wrongly
  // got past validation fails without joining, and writes nowhere but there.
  const base = `version: v2\nauth_server: 127.0.0.1:1\nonboarding: {join_method: token, token: t, ca_pins: [${PIN}]}\n`;
  const head = `${base}storage: {type: directory, path: ./d}\n`;
  const bad: [name: string, yaml: string, says: string][] = [
    [
      "a reader that is neither a name nor a numeric ID",
      `${head}services: [{type: identity, destination: {type: directory, path: ./o, readers: [{user: "a:b"}]}}]\n`,
      "is not a user name or a numeric uid",
    ],
    [
      "a numeric reader ID out of range",
      `${head}services: [{type: identity, destination: {type: directory, path: ./o, readers: [{group: 99999999999}]}}]\n`,
      "is out of range",
    ],
    [
      "memory storage without a token",
      "version: v2\nauth_server: 127.0.0.1:1\nonboarding: {ca_pins: [" +
        PIN +
        "]}\nstorage: {type: memory}\n",
      "no join token is configured",
    ],
    [
      "memory storage, auth server, nothing to verify it",
      "version: v2\nauth_server: 127.0.0.1:1\nonboarding: {token: t}\nstorage: {type: memory}\n",
      "cannot verify the auth server on first contact",
    ],
    ["proxy_server and auth_server", `${head}proxy_server: p.example.com:443\n`, "both set"],
    [
      "no address",
      "version: v2\nonboarding: {token: t}\nstorage: {type: directory, path: ./d}\n",
      "either a proxy or auth address must be set",
    ],
    [
      "join method this build lacks",
      `${head}`.replace("join_method: token", "join_method: circleci"),
      "circleci",
    ],
    ["ca_pins and ca_path", `${head}`.replace("ca_pins:", "ca_path: /x, ca_pins:"), "mutually exclusive"],
    ["insecure with ca_pins", `${head}insecure: true\n`, "mutually exclusive with --insecure"],
    [
      "reserved service name",
      `${head}services: [{type: identity, name: heartbeat, destination: {type: memory}}]\n`,
      "reserved",
    ],
    [
      "service TTL without interval",
      `${head}services: [{type: identity, credential_ttl: 1h, destination: {type: memory}}]\n`,
      "must override both",
    ],
    ["negative TTL", `${head}credential_ttl: -1h\n`, "credential_ttl"],
    [
      "ssh_host without principals",
      `${head}services: [{type: ssh_host, destination: {type: memory}}]\n`,
      "principals",
    ],
    [
      "join_uri with an address",
      `${head}join_uri: tbot+proxy+token://t@p.example.com:443\n`,
      "join_uri cannot be combined",
    ],
    ["empty storage path", `${base}storage: {type: directory, path: ""}\n`, "storage.path must not be empty"],
    ["unknown key", `${base}storage: {type: directory, path: ./d, mode: 0700}\n`, 'unknown field "mode"'],
    [
      "allow_reissue: true, which this build cannot honour",
      `${head}services: [{type: identity, allow_reissue: true, destination: {type: directory, path: ./o}}]\n`,
      "allow_reissue: true is not supported",
    ],
    [
      "fips: true, which this build cannot honour",
      `${head}fips: true\n`,
      "FIPS mode is not available in this build",
    ],
  ];
  const firstError = (r: Ran) => r.stderr.split("\n").find((l) => l.startsWith("ERROR: ")) ?? "";

  for (const [name, yaml, says] of bad) {
    test(name, () => {
      const cwd = workDir("cfg-agree-");
      writeFileSync(join(cwd, "tbot.yaml"), yaml);
      const configure = tbot(cwd, ["configure", "-c", "tbot.yaml"]);
      const start = tbot(cwd, ["start", "-c", "tbot.yaml"], 15_000);
      expect(firstError(configure)).toContain(says);
      expect(configure.code).toBe(1);
      expect(configure.stdout).toBe("");
      expect(firstError(start)).toBe(firstError(configure));
      expect(start.code).toBe(configure.code);
      // Refused before anything was created: no storage, no output directory.
      expect(existsSync(join(cwd, "d"))).toBe(false);
      expect(existsSync(join(cwd, "o"))).toBe(false);
    });
  }

  test("and from flags: start identity --reader-user, as configure identity", () => {
    const cwd = workDir("cfg-agree-flags-");
    const args = [
      "identity",
      "--destination=./o",
      "--reader-user=a:b",
      `--auth-server=127.0.0.1:1`,
      "--token=t",
      `--ca-pin=${PIN}`,
    ];
    const configure = tbot(cwd, ["configure", ...args]);
    const start = tbot(cwd, ["start", ...args], 15_000);
    expect(firstError(configure)).toContain('"a:b" is not a user name or a numeric uid');
    expect(firstError(start)).toBe(firstError(configure));
    expect([start.code, configure.code]).toEqual([1, 1]);
  });

  test("and --fips, from configure and start alike; fips: false is accepted", () => {
    const cwd = workDir("cfg-agree-fips-");
    const args = ["--auth-server=127.0.0.1:1", "--token=t", `--ca-pin=${PIN}`, "--storage=./d"];
    const configure = tbot(cwd, ["configure", ...args, "--fips"]);
    const start = tbot(cwd, ["start", ...args, "--fips", "--oneshot"], 15_000);
    expect(firstError(configure)).toBe(
      'ERROR: fips: FIPS mode is not available in this build (it has no FIPS 140 validated cryptographic module); remove "fips: true" or --fips to run without it',
    );
    expect(firstError(start)).toBe(firstError(configure));
    expect([start.code, configure.code]).toEqual([1, 1]);
    expect(existsSync(join(cwd, "d"))).toBe(false);
    writeFileSync(join(cwd, "tbot.yaml"), `${head}fips: false\n`);
    const ok = tbot(cwd, ["configure", "-c", "tbot.yaml"]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).not.toContain("fips");
  });
});
