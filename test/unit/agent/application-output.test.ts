// The `application` output: decode, validate and render through its descriptor, `tbot start /
// configure application` from flags (round trip through the YAML), and its files.

import { describe, expect, test } from "bun:test";
import { parseConfig, renderConfigYaml } from "../../../src/agent/config/index.ts";
import type { ApplicationService } from "../../../src/agent/services/application/config.ts";
import { applicationFiles } from "../../../src/agent/services/application/service.ts";
import { outputDescriptor, startModeDescriptor } from "../../../src/agent/services/registry.ts";
import { parseTbotArgs, tbotHelp } from "../../../src/cli/tbot-args.ts";
import { buildStartConfig } from "../../../src/cli/tbot-start-config.ts";
import { caught, caughtAsync, expectMessage } from "../config/expect-error.ts";

const H = "version: v2\nproxy_server: example.com:443\nservices:\n  - type: application\n";
const dest = "    destination: {type: directory, path: /opt/app}\n";
const flags = ["--proxy-server", "p.example:443", "--token", "t", "--join-method", "token"];
const build = (argv: string[]) => buildStartConfig(parseTbotArgs(argv), {});

describe("application output config", () => {
  test("is in the registry with its start mode", () => {
    expect(outputDescriptor("application")?.type).toBe("application");
    expect(startModeDescriptor("application")?.type).toBe("application");
  });

  test("decodes app_name and specific_tls_naming; round-trips; false is left out", () => {
    const { config } = parseConfig(
      `${H}${dest}    app_name: grafana\n    specific_tls_naming: yes\n`,
      "t.yaml",
    );
    expect(config.services[0]).toMatchObject({
      type: "application",
      appName: "grafana",
      specificTlsNaming: true,
    });
    const yaml = renderConfigYaml(config);
    expect(yaml).toContain("    app_name: grafana\n    specific_tls_naming: true\n");
    expect(parseConfig(yaml, "again.yaml").config.services).toEqual(config.services);
    const plain = parseConfig(`${H}${dest}    app_name: grafana\n    specific_tls_naming: false\n`, "t.yaml");
    expect(renderConfigYaml(plain.config)).not.toContain("specific_tls_naming");
  });

  test("app_name is required; a non-boolean specific_tls_naming and a foreign key are refused", () => {
    expectMessage(
      caught(() => parseConfig(`${H}${dest}`, "t.yaml")),
      "t.yaml:4:5: ",
      "services[0] (application) needs app_name: the name of the app (tctl get apps)",
    );
    expectMessage(
      caught(() => parseConfig(`${H}${dest}    app_name: a\n    specific_tls_naming: maybe\n`, "t.yaml")),
      "t.yaml:7:26: ",
      "must be true or false",
    );
    expect(
      caught(() => parseConfig(`${H}${dest}    app_name: a\n    username: u\n`, "t.yaml")).message,
    ).toContain("username");
  });

  test("tbot configure application --app --specific-tls-naming renders them; --app is required", async () => {
    const { config } = await build([
      "configure",
      "application",
      ...flags,
      "--destination",
      "/opt/app",
      "--app",
      "grafana",
      "--specific-tls-naming",
    ]);
    expect(config.services).toHaveLength(1);
    expect(config.services[0]).toMatchObject({
      type: "application",
      destination: { type: "directory", path: "/opt/app" },
      appName: "grafana",
      specificTlsNaming: true,
    });
    expect(parseConfig(renderConfigYaml(config), "again.yaml").config.services).toEqual(config.services);
    const none = await caughtAsync(() => build(["start", "application", ...flags, "--destination", "/o"]));
    expect(none.message).toContain("needs app_name");
    expect(caught(() => parseTbotArgs(["start", "database", "--app", "x"])).message).toContain(
      'flag --app belongs to "tbot start application"',
    );
    expect(
      caught(() => parseTbotArgs(["start", "application", "--specific-tls-naming=x"])).message,
    ).toContain("specific-tls-naming");
    expect(tbotHelp(["configure"])).toContain("--specific-tls-naming");
  });
});

describe("application output files", () => {
  const parts = {
    keyPem: "KEY\n",
    certPem: "CERT\n",
    appCaPems: ["APPCA\n"],
    hostCaPems: ["HOSTCA\n"],
    userCaPems: ["USERCA\n"],
    dbCaPems: ["DBCA\n"],
    sshCaLines: [],
  };
  const svc = (specificTlsNaming: boolean): ApplicationService => ({
    type: "application",
    destination: { type: "memory" },
    appName: "grafana",
    specificTlsNaming,
  });
  const common = [
    "identity",
    "key",
    "teleport-app-ca.crt",
    "teleport-database-ca.crt",
    "teleport-host-ca.crt",
    "teleport-user-ca.crt",
    "tlscert",
  ];

  test("identity, key, tlscert and the CA files; tls.* only with specific_tls_naming", () => {
    const f = applicationFiles(svc(false), parts);
    expect(Object.keys(f).sort()).toEqual(common);
    expect(f["teleport-app-ca.crt"]).toBe("APPCA\n");
    expect(f.identity).toBe("KEY\nCERT\nHOSTCA\n");
    const t = applicationFiles(svc(true), parts);
    expect(Object.keys(t).sort()).toEqual([...common, "tls.cas", "tls.crt", "tls.key"].sort());
    expect([t["tls.crt"], t["tls.key"], t["tls.cas"]]).toEqual(["CERT\n", "KEY\n", "APPCA\n"]);
  });
});
