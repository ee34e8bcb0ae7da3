// The `database` output: decode, validate and render through its descriptor, `tbot start /
// configure database` from flags (round trip through the YAML), and the files of each format.

import { describe, expect, test } from "bun:test";
import { parseConfig, renderConfigYaml } from "../../../src/agent/config/index.ts";
import type { DatabaseService } from "../../../src/agent/services/database/config.ts";
import { databaseFiles } from "../../../src/agent/services/database/service.ts";
import { outputDescriptor, startModeDescriptor } from "../../../src/agent/services/registry.ts";
import { parseTbotArgs, tbotHelp } from "../../../src/cli/tbot-args.ts";
import { buildStartConfig } from "../../../src/cli/tbot-start-config.ts";
import { caught, caughtAsync, expectMessage } from "../config/expect-error.ts";

const H = "version: v2\nproxy_server: example.com:443\nservices:\n  - type: database\n";
const dest = "    destination: {type: directory, path: /opt/db}\n";
const flags = ["--proxy-server", "p.example:443", "--token", "t", "--join-method", "token"];
const build = (argv: string[]) => buildStartConfig(parseTbotArgs(argv), {});

describe("database output config", () => {
  test("is in the registry with its start mode", () => {
    expect(outputDescriptor("database")?.type).toBe("database");
    expect(startModeDescriptor("database")?.type).toBe("database");
  });

  test("decodes service, database, username, format; round-trips through configure", () => {
    const { config } = parseConfig(
      `${H}${dest}    service: pg\n    database: app\n    username: app_ro\n    format: tls\n`,
      "t.yaml",
    );
    expect(config.services[0]).toMatchObject({
      type: "database",
      service: "pg",
      database: "app",
      username: "app_ro",
      format: "tls",
    });
    const yaml = renderConfigYaml(config);
    expect(yaml).toContain("    service: pg\n    database: app\n    username: app_ro\n    format: tls\n");
    expect(parseConfig(yaml, "again.yaml").config.services).toEqual(config.services);
  });

  test('format defaults to "" (left out when rendered), database is optional; "" written is the default', () => {
    for (const extra of ["", '    format: ""\n', "    format:\n"]) {
      const { config } = parseConfig(`${H}${dest}    service: pg\n    username: u\n${extra}`, "t.yaml");
      const s = config.services[0] as DatabaseService;
      expect(s.format).toBe("");
      expect(s.database).toBeUndefined();
      const yaml = renderConfigYaml(config);
      expect(yaml).not.toContain("format");
      expect(yaml).not.toContain("database:");
    }
    for (const f of ["mongo", "cockroach"]) {
      const { config } = parseConfig(
        `${H}${dest}    service: pg\n    username: u\n    format: ${f}\n`,
        "t.yaml",
      );
      expect(parseConfig(renderConfigYaml(config), "a.yaml").config.services).toEqual(config.services);
    }
  });

  test("an unknown format is refused at its place", () => {
    const e = caught(() =>
      parseConfig(`${H}${dest}    service: pg\n    username: u\n    format: pem\n`, "t.yaml"),
    );
    expectMessage(
      e,
      "t.yaml:8:13: ",
      'format must be one of "" (default), "tls", "mongo", "cockroach", got "pem"',
    );
  });

  test("service and username are required; empty values and spaces are refused", () => {
    expectMessage(
      caught(() => parseConfig(`${H}${dest}    username: u\n`, "t.yaml")),
      "t.yaml:4:5: ",
      "services[0] (database) needs service: the name of the database (tctl get db)",
    );
    expectMessage(
      caught(() => parseConfig(`${H}${dest}    service: pg\n`, "t.yaml")),
      "t.yaml:4:5: ",
      "services[0] (database) needs username",
    );
    expectMessage(
      caught(() => parseConfig(`${H}${dest}    service: ""\n    username: u\n`, "t.yaml")),
      "t.yaml:6:14: ",
      "must not be empty",
    );
    expectMessage(
      caught(() => parseConfig(`${H}${dest}    service: pg\n    username: "a b"\n`, "t.yaml")),
      "t.yaml:7:15: ",
      'services[0].username "a b" must be 1 to 63 printable characters without spaces',
    );
    expect(
      caught(() => parseConfig(`${H}${dest}    service: pg\n    username: u\n    app_name: x\n`, "t.yaml"))
        .message,
    ).toContain("app_name");
  });

  test("tbot configure database renders the flags; start database needs --service and --username", async () => {
    const { config } = await build([
      "configure",
      "database",
      ...flags,
      "--destination",
      "/opt/db",
      "--service",
      "pg",
      "--database",
      "app",
      "--username",
      "app_ro",
      "--format",
      "cockroach",
    ]);
    expect(config.services).toHaveLength(1);
    expect(config.services[0]).toMatchObject({
      type: "database",
      service: "pg",
      database: "app",
      username: "app_ro",
      format: "cockroach",
      destination: { type: "directory", path: "/opt/db" },
    });
    const again = parseConfig(renderConfigYaml(config), "again.yaml").config;
    expect(again.services).toEqual(config.services);

    const noUser = await caughtAsync(() =>
      build(["start", "database", ...flags, "--destination", "/o", "--service", "pg"]),
    );
    expect(noUser.message).toContain("needs username");
    const badFormat = await caughtAsync(() =>
      build([
        "start",
        "database",
        ...flags,
        "--destination",
        "/o",
        "--service",
        "pg",
        "--username",
        "u",
        "--format",
        "x",
      ]),
    );
    expect(badFormat.message).toContain(
      'format must be one of "" (default), "tls", "mongo", "cockroach", got "x"',
    );
    const wrongMode = caught(() => parseTbotArgs(["start", "identity", "--username", "u"]));
    expect(wrongMode.message).toContain('flag --username belongs to "tbot start database"');
  });

  test("help start lists the mode and its flags", () => {
    const h = tbotHelp(["start"]);
    expect(h).toContain("database");
    expect(h).toContain("--username USER");
    expect(h).toContain("--format tls|mongo|cockroach");
  });
});

describe("database output files", () => {
  const parts = {
    keyPem: "KEY\n",
    certPem: "CERT\n",
    dbCaPems: ["DBCA\n"],
    hostCaPems: ["HOSTCA\n"],
    userCaPems: ["USERCA\n"],
    sshCaLines: ["@cert-authority h ssh-ed25519 AAAA type=host"],
  };
  const svc = (format: DatabaseService["format"]): DatabaseService => ({
    type: "database",
    destination: { type: "memory" },
    service: "pg",
    username: "app_ro",
    format,
  });
  const common = [
    "identity",
    "key",
    "teleport-database-ca.crt",
    "teleport-host-ca.crt",
    "teleport-user-ca.crt",
    "tlscert",
  ];

  test('"" writes the common set (§8.1): identity, key, tlscert, CA files', () => {
    const f = databaseFiles(svc(""), parts);
    expect(Object.keys(f).sort()).toEqual(common);
    expect(f.tlscert).toBe("CERT\n");
    expect(f.key).toBe("KEY\n");
    expect(f["teleport-database-ca.crt"]).toBe("DBCA\n");
    expect(f.identity).toBe("KEY\nCERT\n@cert-authority h ssh-ed25519 AAAA type=host\nHOSTCA\n");
  });

  test("tls adds tls.crt, tls.key, tls.cas (the db CA)", () => {
    const f = databaseFiles(svc("tls"), parts);
    expect(Object.keys(f).sort()).toEqual([...common, "tls.cas", "tls.crt", "tls.key"].sort());
    expect([f["tls.crt"], f["tls.key"], f["tls.cas"]]).toEqual(["CERT\n", "KEY\n", "DBCA\n"]);
  });

  test("mongo adds mongo.crt (certificate then key) and mongo.cas", () => {
    const f = databaseFiles(svc("mongo"), parts);
    expect(f["mongo.crt"]).toBe("CERT\nKEY\n");
    expect(f["mongo.cas"]).toBe("DBCA\n");
    expect(f["tls.crt"]).toBeUndefined();
  });

  test("cockroach adds node.crt, node.key, ca.crt and client.<user>.crt/.key", () => {
    const f = databaseFiles(svc("cockroach"), parts);
    expect(f["node.crt"]).toBe("CERT\n");
    expect(f["node.key"]).toBe("KEY\n");
    expect(f["ca.crt"]).toBe("DBCA\n");
    expect(f["client.app_ro.crt"]).toBe("CERT\n");
    expect(f["client.app_ro.key"]).toBe("KEY\n");
  });

  test("cockroach refuses a username that cannot name a file", () => {
    const e = caught(() =>
      parseConfig(`${H}${dest}    service: pg\n    username: a/b\n    format: cockroach\n`, "t.yaml"),
    );
    expect(e.message).toContain('username "a/b" cannot name the cockroach client.<username>.crt file');
  });
});
