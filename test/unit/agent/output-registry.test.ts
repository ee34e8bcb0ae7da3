// The output registry and its descriptors: every type decodes, validates and renders through
// its descriptor; the reference's other types are "not supported", anything else unknown;
// the per-output exec settings; the schedule each output runs on.

import { describe, expect, test } from "bun:test";
import { parseConfig, renderConfigYaml, validateConfig } from "../../../src/agent/config/index.ts";
import { scheduleOutputs } from "../../../src/agent/services/produce.ts";
import { referenceServiceTypes } from "../../../src/agent/services/reference-types.ts";
import {
  outputDescriptor,
  outputRegistry,
  startModeDescriptor,
  supportedServiceTypes,
} from "../../../src/agent/services/registry.ts";
import type { OutputService } from "../../../src/agent/services/service.ts";
import { caught, expectMessage } from "../config/expect-error.ts";

const H = "version: v2\nproxy_server: example.com:443\n";
const dest = "    destination: {type: directory, path: /opt/out}\n";

describe("registry", () => {
  test("lists identity and ssh_host, one descriptor per type, names and aliases unique", () => {
    expect(supportedServiceTypes.slice(0, 2)).toEqual(["identity", "ssh_host"]);
    expect(supportedServiceTypes).toEqual(outputRegistry.map((d) => d.type));
    const names = outputRegistry.flatMap((d) => [d.type, ...(d.aliases ?? [])]);
    expect(new Set(names).size).toBe(names.length);
    for (const d of outputRegistry) {
      expect(outputDescriptor(d.type)).toBe(d);
      for (const a of d.aliases ?? []) expect(outputDescriptor(a)).toBe(d);
      expect(d.defaultNamePrefix).toMatch(/^[a-z\d_\-+]+$/);
    }
    expect(outputDescriptor("database-tunnel")).toBeUndefined();
    expect(startModeDescriptor("identity")?.type).toBe("identity");
    expect(startModeDescriptor("legacy")).toBeUndefined();
  });

  test("every reference type not in the registry is refused as not supported, others as unrecognized", () => {
    for (const t of referenceServiceTypes.filter((t) => !outputDescriptor(t))) {
      const e = caught(() => parseConfig(`${H}services:\n  - type: ${t}\n${dest}`, "t.yaml"));
      expectMessage(e, "t.yaml:4:11: ", `service type "${t}" is not supported by this build`);
    }
    const e = caught(() => parseConfig(`${H}services:\n  - type: nope\n${dest}`, "t.yaml"));
    expectMessage(
      e,
      "t.yaml:4:11: ",
      `unrecognized service type (nope); supported types: ${supportedServiceTypes.join(", ")}`,
    );
  });

  test("a type's own keys are accepted only on that type", () => {
    const e = caught(() =>
      parseConfig(`${H}services:\n  - type: identity\n    principals: [a]\n${dest}`, "t.yaml"),
    );
    expect(e.message).toContain("principals");
  });

  test("each descriptor round-trips through tbot configure, exec settings included", () => {
    const yaml = `${H}services:
  - type: identity
    name: web
${dest}    ssh_config: off
    credential_ttl: 10m
    renewal_interval: 2m
    exec: ["/usr/bin/systemctl", "reload", "nginx"]
    exec_timeout: 5s
  - type: ssh_host
    principals: [host.example.com]
    destination: {type: directory, path: /etc/ssh/tbot}
    exec: [/usr/bin/true]
`;
    const { config } = parseConfig(yaml, "t.yaml");
    expect(config.services[0]).toMatchObject({
      type: "identity",
      sshConfig: false,
      credentialTtlMs: 600_000,
      renewalIntervalMs: 120_000,
      exec: ["/usr/bin/systemctl", "reload", "nginx"],
      execTimeoutMs: 5000,
    });
    expect(config.services[1]).toMatchObject({ type: "ssh_host", exec: ["/usr/bin/true"] });
    expect(config.services[1]?.execTimeoutMs).toBeUndefined();
    const again = parseConfig(renderConfigYaml(config), "again.yaml").config;
    expect(again.services).toEqual(config.services);
  });
});

describe("exec settings", () => {
  const one = (extra: string) => `${H}services:\n  - type: identity\n${dest}${extra}`;

  test("a string is refused: use a list, there is no shell", () => {
    const e = caught(() => parseConfig(one('    exec: "systemctl reload nginx"\n'), "t.yaml"));
    expectMessage(e, "t.yaml:6:11: ", "must be a list (the program and its arguments, run without a shell)");
    expect(e.message).toContain('exec: ["/usr/bin/systemctl", "reload", "nginx"]');
  });

  test("an empty list, an empty argument, a nested list are refused", () => {
    expectMessage(
      caught(() => parseConfig(one("    exec: []\n"), "t.yaml")),
      "t.yaml:6:11: ",
      "must name a program",
    );
    expectMessage(
      caught(() => parseConfig(one('    exec: ["/bin/x", ""]\n'), "t.yaml")),
      "t.yaml:6:",
      "must not be empty",
    );
    expectMessage(
      caught(() => parseConfig(one("    exec: [[a]]\n"), "t.yaml")),
      "t.yaml:6:",
      "must be a string",
    );
  });

  test("exec_timeout needs exec and must be positive", () => {
    expectMessage(
      caught(() => parseConfig(one("    exec_timeout: 5s\n"), "t.yaml")),
      "t.yaml:6:19: ",
      "sets exec_timeout without exec",
    );
    expectMessage(
      caught(() => parseConfig(one("    exec: [/bin/true]\n    exec_timeout: 0s\n"), "t.yaml")),
      "t.yaml:7:19: ",
      "exec_timeout must be longer than 0s",
    );
  });

  test("ssh_host's own rule runs through its descriptor", () => {
    const { config } = parseConfig(
      `${H}services:\n  - type: ssh_host\n    principals: [a]\n${dest}`,
      "t.yaml",
    );
    config.services[0]!.principals = [];
    expect(caught(() => validateConfig(config)).message).toContain("needs at least one entry in principals");
  });
});

describe("schedules", () => {
  const svc = (name: string): OutputService => ({
    name,
    type: "identity",
    init: async () => {},
    run: async () => {},
  });

  test("an output without its own pair follows the bot; one with its own runs on it", () => {
    const { config } = parseConfig(
      `${H}credential_ttl: 1h\nrenewal_interval: 20m\nservices:
  - type: identity
${dest}  - type: identity
    destination: {type: memory}
    credential_ttl: 10s
    renewal_interval: 2s
`,
      "t.yaml",
    );
    const [a, b] = scheduleOutputs([svc("a"), svc("b")], config.services, config);
    expect(a).toMatchObject({ intervalMs: 20 * 60_000, ttlMs: 3600_000, followsBot: true });
    expect(b).toMatchObject({ intervalMs: 2000, ttlMs: 10_000, followsBot: false });
  });
});
