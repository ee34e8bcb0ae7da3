// Valid tbot.yaml files: the reference's own example, defaults, deprecated spellings, v1
// files migrated in memory, and the warnings each of them earns.

import { describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type BotConfig,
  decodeConfig,
  joinSettings,
  loadConfigFile,
  parseConfig,
  validateConfig,
} from "../../../src/agent/config/index.ts";
import { caughtAsync, expectMessage } from "./expect-error.ts";

// §1.6 "Minimal valid example" of the reference, without its database-tunnel service.
const referenceExample = `version: v2
proxy_server: teleport.example.com:443
onboarding:
  join_method: bound_keypair
  token: my-bot
  bound_keypair:
    registration_secret: 3f0c00e1
storage:
  type: directory
  path: /var/lib/teleport/bot
credential_ttl: 1h
renewal_interval: 20m
services:
  - type: identity
    destination:
      type: directory
      path: /opt/machine-id
`;

const dir = (path: string) => ({
  type: "directory" as const,
  path,
  symlinks: "try-secure" as const,
  acls: "try" as const,
  readers: [],
});

describe("valid configs", () => {
  test("the reference's minimal example parses to the documented meaning", () => {
    const { config, warnings } = parseConfig(referenceExample, "tbot.yaml");
    expect(warnings).toEqual([]);
    const want: BotConfig = {
      version: "v2",
      proxyServer: "teleport.example.com:443",
      onboarding: {
        joinMethod: "bound_keypair",
        token: "my-bot",
        caPins: [],
        boundKeypair: { registrationSecret: "3f0c00e1" },
      },
      storage: dir("/var/lib/teleport/bot"),
      services: [
        { type: "identity", destination: dir("/opt/machine-id"), sshConfig: true, allowReissue: false },
      ],
      credentialTtlMs: 3_600_000,
      renewalIntervalMs: 1_200_000,
      oneshot: false,
      debug: false,
      insecure: false,
      fips: false,
    };
    expect(config).toEqual(want);
    expect(joinSettings(config)).toEqual({
      addressKind: "proxy",
      address: "teleport.example.com:443",
      joinMethod: "bound_keypair",
      token: "my-bot",
      registrationSecret: "3f0c00e1",
    });
  });

  test("defaults: storage, TTLs, flags, default ports", () => {
    const { config } = parseConfig("version: v2\nproxy_server: teleport.example.com\n", "t.yaml");
    expect(config.proxyServer).toBe("teleport.example.com:443");
    expect(config.storage).toEqual(dir("/var/lib/teleport/bot"));
    expect(config.credentialTtlMs).toBe(3_600_000);
    expect(config.renewalIntervalMs).toBe(1_200_000);
    expect(config.onboarding).toEqual({ joinMethod: "", caPins: [] });
    const auth = parseConfig("version: v2\nauth_server: 10.0.0.5\n", "t.yaml").config;
    expect(auth.authServer).toBe("10.0.0.5:3025");
    expect(parseConfig("version: v2\nauth_server: '[::1]'\n", "t.yaml").config.authServer).toBe("[::1]:3025");
  });

  test("every field of both service types, with destinations in full", () => {
    const yaml = `version: v2
auth_server: auth.example.com:3025
onboarding:
  join_method: token
  token: 0123
  ca_pins: [sha256:${"AB".repeat(32)}]
storage:
  type: memory
diag_addr: 127.0.0.1:0
oneshot: yes
debug: on
fips: false
services:
  - type: identity
    name: ci+out_1
    ssh_config: off
    allow_reissue: false
    cluster: leaf
    credential_ttl: 2h
    renewal_interval: 30m
    destination:
      type: directory
      path: /opt/out
      symlinks: insecure
      acls: required
      readers:
        - user: jenkins
        - group: 1001
  - type: ssh_host
    principals: [node1.example.com, 10.0.0.7]
    ca_type: openssh
    node_name: node1
    ssh_address: node1.example.com
    labels: {env: prod, tier: "1"}
    destination: {type: directory, path: /etc/ssh/tbot}
`;
    // Decoded in full, readers and acls: required included, and valid as written (the
    // reader names are looked up when tbot start opens the destination, not here).
    const { config, warnings, places } = decodeConfig(yaml, "t.yaml");
    expect(warnings).toEqual([]);
    expect(() => validateConfig(config, places)).not.toThrow();
    expect(config.onboarding.token).toBe("0123"); // kept as written, not the number 123
    expect(config.onboarding.caPins).toEqual([`sha256:${"AB".repeat(32)}`]);
    expect(config.storage).toEqual({ type: "memory" });
    expect(config.diagAddr).toBe("127.0.0.1:0");
    expect([config.oneshot, config.debug, config.fips]).toEqual([true, true, false]);
    expect(config.services[0]).toEqual({
      type: "identity",
      name: "ci+out_1",
      sshConfig: false,
      allowReissue: false,
      cluster: "leaf",
      credentialTtlMs: 7_200_000,
      renewalIntervalMs: 1_800_000,
      destination: {
        type: "directory",
        path: "/opt/out",
        symlinks: "insecure",
        acls: "required",
        readers: [{ user: "jenkins" }, { group: "1001" }],
      },
    });
    expect(config.services[1]).toEqual({
      type: "ssh_host",
      principals: ["node1.example.com", "10.0.0.7"],
      caType: "openssh",
      nodeName: "node1",
      sshAddress: "node1.example.com:22",
      labels: { env: "prod", tier: "1" },
      destination: dir("/etc/ssh/tbot"),
    });
  });

  test("outputs is appended to services, with a deprecation warning", () => {
    const yaml = `version: v2
proxy_server: p.example.com:443
services:
  - type: identity
    destination: {type: memory}
outputs:
  - type: ssh_host
    principals: [h]
    destination: {type: memory}
`;
    const { config, warnings } = parseConfig(yaml, "t.yaml");
    expect(config.services.map((s) => s.type)).toEqual(["identity", "ssh_host"]);
    expect(warnings).toEqual([
      "outputs is deprecated; use services instead (its entries were appended to services)",
    ]);
  });

  test("certificate_ttl is a deprecated alias; credential_ttl wins when both are set", () => {
    const alone = parseConfig("version: v2\nproxy_server: p:443\ncertificate_ttl: 2h\n", "t.yaml");
    expect(alone.config.credentialTtlMs).toBe(7_200_000);
    expect(alone.warnings).toEqual(["certificate_ttl is deprecated; rename it to credential_ttl"]);
    const both = parseConfig(
      "version: v2\nproxy_server: p:443\ncertificate_ttl: 2h\ncredential_ttl: 3h\n",
      "t.yaml",
    );
    expect(both.config.credentialTtlMs).toBe(10_800_000);
    expect(both.warnings[0]).toContain("ignored because credential_ttl is also set");
  });

  test("TTL shorter than the interval and TTL over 24h are warnings, not errors", () => {
    const short = parseConfig(
      "version: v2\nproxy_server: p:443\ncredential_ttl: 10m\nrenewal_interval: 20m\n",
      "t.yaml",
    );
    expect(short.warnings).toEqual([
      "Certificate TTL (10m0s) is shorter than the renewal interval (20m0s). This is likely an invalid configuration. " +
        "Increase the certificate TTL or decrease the renewal interval.",
    ]);
    // One-shot bots never renew, so the pair does not matter to them.
    const oneshot = parseConfig(
      "version: v2\nproxy_server: p:443\ncredential_ttl: 10m\noneshot: true\n",
      "t.yaml",
    );
    expect(oneshot.warnings).toEqual([]);
    const long = parseConfig("version: v2\nproxy_server: p:443\ncredential_ttl: 48h\n", "t.yaml");
    expect(long.warnings).toHaveLength(1);
    expect(long.warnings[0]).toContain("credential_ttl (48h0m0s) exceeds the maximum of 24h0m0s");
    const perService = parseConfig(
      "version: v2\nproxy_server: p:443\noutputs:\n  - type: identity\n    destination: {type: memory}\n    credential_ttl: 5m\n    renewal_interval: 10m\n",
      "t.yaml",
    );
    expect(perService.warnings[1]).toStartWith("outputs[0]: Certificate TTL (5m0s) is shorter");
  });

  test("two services writing one directory is reported but allowed", () => {
    const yaml = `version: v2
proxy_server: p:443
services:
  - {type: identity, destination: {type: directory, path: /o}}
  - {type: identity, destination: {type: directory, path: /o}}
`;
    expect(parseConfig(yaml, "t.yaml").warnings).toEqual([
      "services[1] and services[0] both write to /o; their files will overwrite each other",
    ]);
  });

  test("a join URI stands in for address, method, token and secret", () => {
    const { config } = parseConfig(
      "version: v2\njoin_uri: tbot+auth+bound-keypair://my%20bot:s%40cret@auth.example.com\n",
      "t.yaml",
    );
    expect(joinSettings(config)).toEqual({
      addressKind: "auth",
      address: "auth.example.com:3025",
      joinMethod: "bound_keypair",
      token: "my bot",
      registrationSecret: "s@cret",
    });
  });

  test("static_key_path is accepted as the docs' spelling of static_private_key_path", () => {
    const yaml =
      "version: v2\nproxy_server: p:443\nonboarding:\n  join_method: bound_keypair\n  token: b\n  bound_keypair:\n    static_key_path: /etc/tbot/static.key\n";
    expect(parseConfig(yaml, "t.yaml").config.onboarding.boundKeypair).toEqual({
      staticPrivateKeyPath: "/etc/tbot/static.key",
    });
  });

  test('ca_path: "" next to ca_pins means "not set", as the reference\'s tbot configure writes it', () => {
    const pin = `sha256:${"ab".repeat(32)}`;
    const yaml = `version: v2\nauth_server: a:3025\nonboarding:\n  token: t\n  ca_pins:\n    - ${pin}\n  ca_path: ""\n`;
    const { config, warnings } = parseConfig(yaml, "t.yaml");
    expect(warnings).toEqual([]);
    expect(config.onboarding.caPins).toEqual([pin]);
    expect(config.onboarding.caPath).toBeUndefined();
  });

  test("validateConfig works on a config built in code, without places", () => {
    const { config } = parseConfig(referenceExample, "tbot.yaml");
    expect(validateConfig(config)).toEqual([]);
    expect(() => validateConfig({ ...config, authServer: "a:3025" })).toThrow(
      "proxy_server and auth_server are both set; keep only one (proxy_server is recommended)",
    );
    expect(() => validateConfig({ ...config, credentialTtlMs: -1 })).toThrow(
      "credential_ttl must not be negative",
    );
  });
});

describe("v1 configs", () => {
  test("a version-less file with legacy forms is migrated with the reference's warning", () => {
    const yaml = `auth_server: teleport.example.com:443
onboarding:
  join_method: token
  token: abcd123-insecure-do-not-use-this
  ca_pins:
    - sha256:${"0f".repeat(32)}
storage:
  directory: /var/lib/teleport/bot
destinations:
  - directory: /opt/machine-id
  - directory:
      path: /opt/no-ssh
      symlinks: secure
    configs: [identity, tls]
  - memory: {}
certificate_ttl: 1h
renewal_interval: 20m
`;
    const { config, warnings } = parseConfig(yaml, "t.yaml");
    expect(warnings[0]).toStartWith(
      "Deprecated config version (V1) detected. Attempting to perform an on-the-fly in-memory migration",
    );
    expect(config.storage).toEqual(dir("/var/lib/teleport/bot"));
    expect(config.services).toEqual([
      { type: "identity", destination: dir("/opt/machine-id"), sshConfig: true, allowReissue: false },
      {
        type: "identity",
        destination: { ...dir("/opt/no-ssh"), symlinks: "secure" },
        sshConfig: false,
        allowReissue: false,
      },
      { type: "identity", destination: { type: "memory" }, sshConfig: true, allowReissue: false },
    ]);
    expect(config.authServer).toBe("teleport.example.com:443");
  });

  test("version: v1 is treated the same way", () => {
    const { warnings } = parseConfig("version: v1\nauth_server: a:3025\n", "t.yaml");
    expect(warnings[0]).toStartWith("Deprecated config version (V1)");
  });
});

describe("loading from a file", () => {
  test("loadConfigFile reads, parses and names the file in messages", async () => {
    const d = await mkdtemp(join(tmpdir(), "tbot-config-"));
    const good = join(d, "tbot.yaml");
    await writeFile(good, referenceExample);
    const { config } = await loadConfigFile(good);
    expect(config.proxyServer).toBe("teleport.example.com:443");

    const bad = join(d, "bad.yaml");
    await writeFile(bad, "version: v2\nproxy_server: p:443\nrenewal_interval: soon\n");
    expectMessage(await caughtAsync(() => loadConfigFile(bad)), `${bad}:3:19: `, 'invalid duration "soon"');
    await rm(d, { recursive: true, force: true });
  });

  test("a missing or unreadable file is one clear error", async () => {
    const missing = join(tmpdir(), "no-such-dir-tbot", "tbot.yaml");
    expectMessage(
      await caughtAsync(() => loadConfigFile(missing)),
      `cannot read config file "${missing}": `,
      "does not exist",
    );
    expectMessage(
      await caughtAsync(() => loadConfigFile(tmpdir())),
      "cannot read config file",
      "is a directory",
    );
  });
});
