// tbot's argv: parsing, the flags overlay of §1.1 (with its warnings), env fallbacks, the
// legacy flag set, and the messages for bad flags.

import { afterAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig, renderConfigYaml } from "../../../src/agent/config/index.ts";
import { parseTbotArgs, tbotHelp, tbotUsage } from "../../../src/cli/tbot-args.ts";
import { buildStartConfig } from "../../../src/cli/tbot-start-config.ts";
import { caught, caughtAsync, expectMessage } from "./expect-error.ts";

const PIN = `sha256:${"cd".repeat(32)}`;
const noEnv = {};
const build = (argv: string[], env: Record<string, string | undefined> = noEnv) =>
  buildStartConfig(parseTbotArgs(argv), env);

const made: string[] = [];
afterAll(() => Promise.all(made.map((d) => rm(d, { recursive: true, force: true }))));

async function configFile(text: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "tbot-args-"));
  made.push(d);
  const p = join(d, "tbot.yaml");
  await writeFile(p, text);
  return p;
}

const fileWithEverything = `version: v2
proxy_server: file.example.com:443
onboarding:
  join_method: bound_keypair
  token: file-bot
  bound_keypair:
    registration_secret: file-secret
storage:
  type: directory
  path: /var/lib/file-bot
credential_ttl: 2h
renewal_interval: 30m
diag_addr: 127.0.0.1:3001
services:
  - type: identity
    destination: {type: directory, path: /opt/file-out}
`;

describe("parseTbotArgs", () => {
  test("commands, subcommands, short flags, repeated flags and --no-", () => {
    expect(parseTbotArgs(["start", "-c", "/etc/tbot.yaml", "-d", "--ca-pin", "a", "--ca-pin=b"])).toEqual({
      command: "start",
      flags: { config: "/etc/tbot.yaml", debug: true, "ca-pin": ["a", "b"] },
      positionals: [],
    });
    expect(parseTbotArgs(["keypair", "create", "--static"])).toMatchObject({
      command: "keypair",
      subcommand: "create",
    });
    expect(parseTbotArgs(["start", "identity", "--destination", "/o"]).subcommand).toBe("identity");
    expect(parseTbotArgs(["ssh-proxy-command", "--no-tls-routing", "--host=h"]).flags).toEqual({
      "tls-routing": false,
      host: "h",
    });
    // No command: "" (tbot prints the usage on stderr, exit 2); --help alone is help.
    expect(parseTbotArgs([]).command).toBe("");
    expect(parseTbotArgs(["--help"]).command).toBe("help");
    expect(parseTbotArgs(["start", "--help", "--token", "x"])).toMatchObject({
      command: "help",
      positionals: ["start"],
    });
    expect(tbotUsage).toContain("--destination-dir DIR");
  });

  test("a subcommand's --help prints that subcommand's own help", () => {
    const install = tbotHelp(parseTbotArgs(["install", "systemd", "--help"]).positionals);
    expect(install).toStartWith("Usage: tbot install systemd -c CONFIG");
    expect(install).toContain("--systemd-directory DIR");
    expect(install).not.toContain("--proxy-server");
    const start = tbotHelp(parseTbotArgs(["start", "--help"]).positionals);
    expect(start).toStartWith("Usage: tbot start");
    expect(start).toContain("--destination-dir DIR");
    expect(start).not.toContain("--systemd-directory");
    expect(tbotHelp(parseTbotArgs(["help", "configure"]).positionals)).toStartWith("Usage: tbot configure");
    expect(tbotHelp(parseTbotArgs(["help"]).positionals)).toBe(tbotUsage);
  });

  test("bad command lines are one usage error that points to tbot help", () => {
    for (const [argv, says] of [
      [["start", "--tokn", "x"], "unknown flag --tokn (did you mean --token?)"],
      [["start", "--destinaton-dir", "x"], "unknown flag --destinaton-dir (did you mean --destination-dir?)"],
      [["start", "--zzzzzzzz"], "unknown flag --zzzzzzzz; "],
      [["start", "--token"], "flag --token needs a value"],
      [["start", "--oneshot=yes"], "flag --oneshot does not take a value"],
      [["start", "--token", "-x"], "write --token=<value>"],
      [["frobnicate"], 'unknown command "frobnicate"'],
      [["keypair"], '"tbot keypair" needs a subcommand: create'],
      [["start", "-o", "out.yaml"], 'flag --output is not valid for "tbot start"'],
      [["start", "--destination", "/o"], 'flag --destination belongs to "tbot start identity"'],
      [["start", "database-tunnel"], '"tbot start database-tunnel" is not supported by this build'],
      [["start", "identity", "extra"], 'unexpected argument "extra"'],
      [["start", "identity", "--destination-dir", "/o"], "flag --destination-dir belongs to"],
      [["start", "--log-format", "xml"], "--log-format must be one of text, json"],
    ] as const) {
      const e = caught(() => parseTbotArgs([...argv]));
      expectMessage(e, "", says);
      expect(e.message).toEndWith('run "tbot help" for usage');
      expect(e.exitCode).toBe(2);
    }
  });
});

describe("help text", () => {
  test("install systemd's --pid-file default is the one the unit uses; --reader-* say they are not supported", () => {
    const install = tbotHelp(["install", "systemd"]);
    expect(install).toContain("default /run/<name>/<name>.pid");
    expect(install).not.toContain("default /run/<name>.pid");
    expect(tbotUsage).toMatch(/--reader-user USER, --reader-group GROUP +Not supported yet/);
    expect(tbotUsage).not.toContain("Grant read access via ACLs");
  });

  test("every command the parser accepts is in the help, with its flags: ssh-proxy-command, keypair create, wait, migrate", () => {
    for (const c of [
      "ssh-proxy-command",
      "keypair create",
      "wait",
      "migrate",
      "install systemd",
      "tpm identify",
    ])
      expect(tbotUsage).toMatch(new RegExp(`^  ${c} `, "m"));
    const keypair = tbotHelp(["keypair", "create"]);
    expect(keypair).toStartWith("Usage: tbot keypair create");
    for (const f of ["--proxy-server", "--ca-pin", "--storage", "--data-dir", "--overwrite", "--format"])
      expect(keypair).toContain(f);
    expect(keypair).toContain("--static-key-path PATH");
    const proxy = tbotHelp(["ssh-proxy-command"]);
    for (const f of ["--destination-dir", "--proxy-server", "--host", "--[no-]tls-routing"])
      expect(proxy).toContain(f);
    expect(tbotHelp(["wait"])).toContain("--diag-addr HOST:PORT");
    expect(tbotHelp(["wait"])).toContain("--timeout DURATION");
    expect(tbotHelp(["migrate"])).toContain("-o, --output PATH");
  });

  test("tauth's usage lists -d and --log-format with the start flags, before the admin-identity paragraph", async () => {
    const { tauthUsage } = await import("../../../src/cli/tauth.ts");
    const startFlags = tauthUsage.slice(tauthUsage.indexOf("Flags for start:"));
    const block = startFlags.split("\n\n")[0]!;
    expect(block).toContain("-d, --debug");
    expect(block).toContain("--log-format FORMAT");
    expect(tauthUsage.indexOf("--log-format")).toBeLessThan(tauthUsage.indexOf("The first start writes"));
  });
});

describe("TBOT_DEBUG, read one way everywhere", () => {
  test("1/t/true/yes/on are true; 0/f/false/no/off/empty false; anything else false with a warning naming the accepted values", async () => {
    const { envBool } = await import("../../../src/util/env-bool.ts");
    for (const v of ["1", "t", "TRUE", "yes", "on", " On "])
      expect(envBool({ X: v }, "X")).toEqual({ value: true });
    for (const v of ["0", "f", "false", "NO", "off", ""])
      expect(envBool({ X: v }, "X")).toEqual({ value: false });
    expect(envBool({}, "X")).toEqual({ value: false });
    const bad = envBool({ X: "2" }, "X");
    expect(bad.value).toBe(false);
    expect(bad.warning).toBe(
      'X="2" is not a boolean (use 1/true/yes/on or 0/false/no/off); treating it as false',
    );
  });

  test("start/configure: TBOT_DEBUG=2 does not stop tbot; it is false, with the warning", async () => {
    const { config, warnings } = await build(["start", "--proxy-server", "p:443"], { TBOT_DEBUG: "2" });
    expect(config.debug).toBe(false);
    expect(warnings).toEqual([
      'TBOT_DEBUG="2" is not a boolean (use 1/true/yes/on or 0/false/no/off); treating it as false',
    ]);
    for (const v of ["on", "t", "yes", "1"])
      expect((await build(["start", "--proxy-server", "p:443"], { TBOT_DEBUG: v })).config.debug).toBe(true);
  });

  test("TELEPORT_ANONYMOUS_TELEMETRY goes through the same parser", async () => {
    const { telemetryNotice } = await import("../../../src/agent/telemetry.ts");
    expect(telemetryNotice({ TELEPORT_ANONYMOUS_TELEMETRY: "on" }).info).toContain("nothing is sent");
    expect(telemetryNotice({ TELEPORT_ANONYMOUS_TELEMETRY: "0" })).toEqual({});
    expect(telemetryNotice({ TELEPORT_ANONYMOUS_TELEMETRY: "2" }).warning).toContain("is not a boolean");
  });
});

describe("buildStartConfig", () => {
  test("the legacy flag set alone yields a valid config", async () => {
    const { config, warnings } = await build(
      [
        "start",
        "--data-dir",
        "/var/lib/d",
        "--destination-dir",
        "/opt/o",
        "--token",
        "T",
        "--join-method",
        "token",
      ].concat(["--auth-server", "auth.example.com:3025", "--ca-pin", PIN, "--oneshot"]),
    );
    expect(warnings).toEqual([]);
    expect(config).toMatchObject({
      authServer: "auth.example.com:3025",
      onboarding: { joinMethod: "token", token: "T", caPins: [PIN] },
      storage: { type: "directory", path: "/var/lib/d" },
      services: [{ type: "identity", destination: { type: "directory", path: "/opt/o" }, sshConfig: true }],
      oneshot: true,
    });
  });

  test("without -c or --data-dir storage is /var/lib/teleport/bot; relative flag paths stay as given", async () => {
    // `tbot start` resolves them after this (resolveConfigPaths); configure prints them so.
    const { config } = await build(["start", "--proxy-server", "p.example.com", "--destination-dir", "out"]);
    expect(config.proxyServer).toBe("p.example.com:443");
    expect(config.storage).toMatchObject({ type: "directory", path: "/var/lib/teleport/bot" });
    expect(config.services[0]?.destination).toMatchObject({ path: "out" });
    const rel = await build([
      "configure",
      "--proxy-server",
      "p.example.com",
      "--data-dir=./tbot-data",
      "--destination-dir=./tbot-user",
    ]);
    expect(rel.config.storage).toMatchObject({ type: "directory", path: "./tbot-data" });
    expect(rel.config.services[0]?.destination).toMatchObject({ path: "./tbot-user" });
    const uri = await build(["configure", "--proxy-server", "p.example.com", "--storage", "./d"]);
    expect(uri.config.storage).toMatchObject({ type: "directory", path: "./d" });
  });

  test("an empty --data-dir or --destination-dir is refused, not taken as the working directory", async () => {
    for (const flag of ["--data-dir=", "--destination-dir= "]) {
      const e = await caughtAsync(() => build(["configure", "--proxy-server", "p.example.com", flag]));
      expectMessage(e, flag.slice(0, flag.indexOf("=")), "the value is empty");
    }
  });

  test("flags override the file, each with the reference's warning", async () => {
    const path = await configFile(fileWithEverything);
    const { config, warnings } = await build([
      "start",
      "-c",
      path,
      "--proxy-server",
      "cli.example.com:8443",
      "--certificate-ttl",
      "3h",
      "--renewal-interval",
      "1h",
      "--diag-addr",
      "0.0.0.0:9000",
      "--storage",
      "memory://",
      "--destination-dir",
      "/opt/cli-out",
      "--debug",
    ]);
    expect(warnings).toEqual([
      `CLI parameters are overriding proxy_server configured in ${path}`,
      `CLI parameters are overriding diag_addr configured in ${path}`,
      `CLI parameters are overriding credential_ttl configured in ${path}`,
      `CLI parameters are overriding renewal_interval configured in ${path}`,
      `CLI parameters are overriding storage configured in ${path}`,
      `CLI parameters are overriding services configured in ${path}`,
    ]);
    expect(config).toMatchObject({
      proxyServer: "cli.example.com:8443",
      credentialTtlMs: 3 * 3_600_000,
      renewalIntervalMs: 3_600_000,
      diagAddr: "0.0.0.0:9000",
      storage: { type: "memory" },
      debug: true,
      // untouched by flags:
      onboarding: { joinMethod: "bound_keypair", token: "file-bot" },
    });
    expect(config.services).toHaveLength(1);
  });

  test("any onboarding flag replaces the whole onboarding section", async () => {
    const path = await configFile(fileWithEverything);
    const { config, warnings } = await build(["start", "-c", path, "--token", "cli-token"]);
    expect(warnings).toEqual([`CLI parameters are overriding onboarding config from ${path}`]);
    // join_method and the registration secret from the file are gone: no half-merged state.
    expect(config.onboarding).toEqual({ joinMethod: "", token: "cli-token", caPins: [] });
  });

  test("booleans only turn things on", async () => {
    const path = await configFile(`${fileWithEverything}oneshot: true\ninsecure: false\n`);
    const { config } = await build(["start", "-c", path, "--no-oneshot"]);
    expect(config.oneshot).toBe(true);
  });

  test("environment fallbacks: TBOT_CONFIG_PATH, TELEPORT_*, TBOT_DEBUG, TBOT_REGISTRATION_SECRET", async () => {
    const path = await configFile("version: v2\nonboarding:\n  join_method: bound_keypair\n  token: b\n");
    const { config, warnings } = await build(["start"], {
      TBOT_CONFIG_PATH: path,
      TELEPORT_AUTH_SERVER: "auth.example.com",
      TBOT_DEBUG: "true",
      TBOT_REGISTRATION_SECRET: "env-secret",
    });
    expect(warnings).toEqual([]);
    expect(config).toMatchObject({
      authServer: "auth.example.com:3025",
      debug: true,
      onboarding: {
        joinMethod: "bound_keypair",
        token: "b",
        boundKeypair: { registrationSecret: "env-secret" },
      },
    });
    const fromEnv = await build(["start"], { TELEPORT_PROXY: "p:443", TELEPORT_BOT_TOKEN: "tok" });
    expect(fromEnv.config).toMatchObject({ proxyServer: "p:443", onboarding: { token: "tok" } });
    // A flag beats its environment variable.
    const flagWins = await build(["start", "--proxy-server", "flag:443"], { TELEPORT_PROXY: "env:443" });
    expect(flagWins.config.proxyServer).toBe("flag:443");
  });

  test("TELEPORT_AUTH_SERVER and TELEPORT_PROXY fill what the file leaves unset; only a flag overrides it, with the warning", async () => {
    const path = await configFile("version: v2\nauth_server: file.example.com:3025\n");
    const env = { TELEPORT_AUTH_SERVER: "env.example.com", TELEPORT_PROXY: "proxy.example.com:443" };
    const quiet = await build(["start", "-c", path], env);
    expect(quiet.warnings).toEqual([]);
    expect(quiet.config.authServer).toBe("file.example.com:3025");
    const flag = await build(["start", "-c", path, "--auth-server", "flag.example.com"], env);
    expect(flag.config.authServer).toBe("flag.example.com:3025");
    expect(flag.warnings).toEqual([`CLI parameters are overriding auth_server configured in ${path}`]);
  });

  test("the env registration secret never overrides a configured one", async () => {
    const path = await configFile(fileWithEverything);
    const { config } = await build(["start", "-c", path], { TBOT_REGISTRATION_SECRET: "env-secret" });
    expect(config.onboarding.boundKeypair).toEqual({ registrationSecret: "file-secret" });
    const flag = await build(["start", "-c", path, "--registration-secret-path", "/etc/s"]);
    expect(flag.config.onboarding.boundKeypair).toEqual({ registrationSecretPath: "/etc/s" });
    expect(flag.warnings).toContain(
      `CLI parameters are overriding onboarding.bound_keypair.registration_secret configured in ${path}`,
    );
  });

  test("--config-string carries a base64 config", async () => {
    const b64 = Buffer.from("version: v2\nproxy_server: p:443\n").toString("base64");
    expect((await build(["start", "--config-string", b64])).config.proxyServer).toBe("p:443");
    // A flag beats a variable of the other kind instead of clashing with it.
    const flagFirst = await build(["start", "--config-string", b64], { TBOT_CONFIG_PATH: "/no/such/file" });
    expect(flagFirst.config.proxyServer).toBe("p:443");
    const bad = Buffer.from("version: v2\nproxy_server: p:443\nbogus: 1\n").toString("base64");
    expectMessage(
      await caughtAsync(() => build(["start"], { TBOT_CONFIG: bad })),
      "TBOT_CONFIG:3:1: ",
      'unknown field "bogus"',
    );
  });

  test("configure: what flags build renders to YAML that parses back to the same config", async () => {
    const { config } = await build([
      "configure",
      "--join-method",
      "bound_keypair",
      "--token",
      "bot",
      "--registration-secret",
      "s",
      "--proxy-server",
      "teleport.example.com",
      "--storage",
      "memory://",
      "--destination-dir",
      "/opt/out",
      "--certificate-ttl",
      "90m",
      "--oneshot",
      "-o",
      "/tmp/tbot.yaml",
    ]);
    expect(parseConfig(renderConfigYaml(config), "rendered.yaml").config).toEqual(config);
  });

  test("--reader-user/--reader-group grant readers (POSIX ACLs); a malformed one is refused by configure as by start", async () => {
    const args = (reader: string) => [
      "identity",
      "--destination",
      "/opt/id",
      "--reader-user",
      reader,
      "--reader-group",
      "ci",
      "--join-uri",
      "tbot+proxy+token://t@p.example.com",
    ];
    const { config } = await build(["configure", ...args("jenkins")]);
    const dest = config.services[0]!.destination as { readers?: unknown };
    expect(dest.readers).toEqual([{ user: "jenkins" }, { group: "ci" }]);
    for (const command of ["configure", "start"]) {
      const e = await caughtAsync(() => build([command, ...args("a:b")]));
      expectMessage(
        e,
        "services[0].destination.readers[0].user",
        '"a:b" is not a user name or a numeric uid',
      );
    }
  });

  test("start identity builds its one service from flags", async () => {
    const { config } = await build([
      "start",
      "identity",
      "--destination",
      "file:///opt/id",
      "--ssh-config",
      "off",
      "--cluster",
      "leaf",
      "--join-uri",
      "tbot+proxy+token://t@p.example.com",
    ]);
    expect(config.services).toEqual([
      {
        type: "identity",
        destination: {
          type: "directory",
          path: "/opt/id",
          symlinks: "try-secure",
          acls: "try",
          readers: [],
        },
        sshConfig: false,
        allowReissue: false,
        cluster: "leaf",
      },
    ]);
    expect(config.joinUri).toBe("tbot+proxy+token://t@p.example.com");
  });

  test("start identity --allow-reissue is refused in one line, naming the flag", async () => {
    await expect(
      build([
        "start",
        "identity",
        "--destination",
        "file:///opt/id",
        "--allow-reissue",
        "--join-uri",
        "tbot+proxy+token://t@p.example.com",
      ]),
    ).rejects.toThrow(/allow_reissue: true is not supported: .*\(or --allow-reissue\)$/);
  });

  test("errors in flags and the environment name the flag or variable", async () => {
    const path = await configFile(fileWithEverything);
    for (const [argv, env, prefix, says] of [
      [
        ["start", "--proxy-server", "p:443", "--renewal-interval", "5x"],
        {},
        "--renewal-interval: ",
        'invalid duration "5x"',
      ],
      [
        ["start", "--proxy-server", "p:443", "--certificate-ttl=-1h"],
        {},
        "--certificate-ttl: ",
        "negative duration",
      ],
      [["start", "--proxy-server", "p:99999"], {}, "--proxy-server: ", "out of range"],
      [["start"], { TELEPORT_AUTH_SERVER: "https://a" }, "TELEPORT_AUTH_SERVER: ", "URL scheme"],
      [["start", "--proxy-server", "p:443", "--diag-addr", "localhost"], {}, "--diag-addr: ", "has no port"],
      [
        ["start", "--proxy-server", "p:443", "--storage", "file://nas/bot"],
        {},
        "--storage: ",
        "file-backed data storage must be on the local host",
      ],
      [
        ["start", "--proxy-server", "p:443", "--storage", "memory://x"],
        {},
        "--storage: ",
        "memory-backed data storage should not have host or path specified",
      ],
      [
        ["start", "--proxy-server", "p:443", "--storage", "ftp://x/y"],
        {},
        "--storage: ",
        "unrecognized data storage scheme",
      ],
      [
        ["start", "--join-uri", "tbot+proxy+tokn://t:s3cret@p:443"],
        {},
        "--join-uri: ",
        'unrecognized join method: "tokn"',
      ],
      [
        ["start", "--proxy-server", "p:443", "--join-method", "gcp"],
        {},
        "--join-method: ",
        'join method "gcp" is not supported',
      ],
      [
        ["start", "--data-dir", "/d", "--storage", "memory://", "--proxy-server", "p:443"],
        {},
        "--data-dir and --storage",
        "use only one",
      ],
      [
        ["start", "--proxy-server", "p:443", "--auth-server", "a:3025"],
        {},
        "proxy_server and auth_server",
        "keep only one",
      ],
      [["start", "--token", "t"], {}, "either a proxy or auth address must be set", "--proxy-server"],
      [
        ["start", "--proxy-server", "p:443", "--insecure", "--ca-pin", PIN],
        {},
        "the option ca-pin is mutually exclusive with --insecure",
        "",
      ],
      [
        ["start", "--proxy-server", "p:443", "--ca-pin", "sha1:abc"],
        {},
        '--ca-pin: "sha1:abc" is not a CA pin',
        "",
      ],
      [
        [
          "start",
          "--proxy-server",
          "p:443",
          "--registration-secret",
          "a",
          "--registration-secret-path",
          "/b",
        ],
        {},
        "registration_secret and registration_secret_path are mutually exclusive",
        "",
      ],
      [["start", "identity", "--proxy-server", "p:443"], {}, '"tbot start identity" needs --destination', ""],
      [
        ["start", "identity", "-c", path, "--destination", "/o"],
        {},
        '"tbot start identity" builds its config from flags',
        "",
      ],
      [
        ["start", "-c", path, "--join-uri", "tbot+proxy+token://t@p:443"],
        {},
        `${path}:2:15: join_uri cannot be combined with proxy_server`,
        "",
      ],
      [["start", "-c", join(path, "..", "missing.yaml")], {}, "cannot read config file", "does not exist"],
      [["start", "--config-string", "not base64!"], {}, "--config-string: the value is not base64", ""],
    ] as const) {
      const e = await caughtAsync(() => build([...argv], env));
      expectMessage(e, prefix, says);
      expect(e.message).not.toContain("s3cret");
    }
  });
});
