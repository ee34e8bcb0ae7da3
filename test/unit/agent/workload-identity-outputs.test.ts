// The workload-identity-x509, -jwt and -api services' config: decode, validate and render
// through their descriptors, `tbot start/configure workload-identity-x509|jwt` from flags, the
// refusals (selector with both/neither, no audience, tcp listen, other attestors, oneshot,
// destination on the API), and the x509 files (PKCS#8 key, bundle).

import { describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseConfig, renderConfigYaml } from "../../../src/agent/config/index.ts";
import { freshKey } from "../../../src/agent/identity/bot-identity.ts";
import { outputDescriptor, startModeDescriptor } from "../../../src/agent/services/registry.ts";
import { listenProblem } from "../../../src/agent/services/workload-identity-api/config.ts";
import { workloadX509Files } from "../../../src/agent/services/workload-identity-x509/service.ts";
import { parseTbotArgs } from "../../../src/cli/tbot-args.ts";
import { buildStartConfig } from "../../../src/cli/tbot-start-config.ts";
import { cleanupAfterFile, tempDir } from "../../harness/proc.ts";
import { caught, caughtAsync, expectMessage } from "../config/expect-error.ts";

cleanupAfterFile();

const H = "version: v2\nproxy_server: example.com:443\nservices:\n";
const dest = "    destination: {type: directory, path: /opt/svid}\n";
const flags = ["--proxy-server", "p.example:443", "--token", "t", "--join-method", "token"];
const build = (argv: string[]) => buildStartConfig(parseTbotArgs(argv), {});
const parse = (body: string, extra = "") => parseConfig(`${H}${body}${extra}`, "t.yaml");

describe("workload-identity-x509", () => {
  test("is in the registry with its start mode", () => {
    expect(outputDescriptor("workload-identity-x509")?.type).toBe("workload-identity-x509");
    expect(startModeDescriptor("workload-identity-x509")?.type).toBe("workload-identity-x509");
  });

  test("decodes a name or labels selector; round-trips", () => {
    const { config } = parse(
      `  - type: workload-identity-x509\n${dest}    selector: {name: by-uid}\n  - type: workload-identity-x509\n    destination: {type: directory, path: /opt/b}\n    selector:\n      labels: {env: prod, team: [a, b]}\n    include_federated_trust_bundles: true\n`,
    );
    expect(config.services[0]).toMatchObject({
      selector: { name: "by-uid" },
      includeFederatedTrustBundles: false,
    });
    expect(config.services[1]).toMatchObject({
      selector: { labels: { env: "prod", team: ["a", "b"] } },
      includeFederatedTrustBundles: true,
    });
    const yaml = renderConfigYaml(config);
    expect(yaml).toContain("selector:\n      name: by-uid\n");
    expect(parseConfig(yaml, "again.yaml").config.services).toEqual(config.services);
  });

  test("selector with neither or both is refused at its place; unknown selector key refused", () => {
    expectMessage(
      caught(() => parse(`  - type: workload-identity-x509\n${dest}`)),
      "t.yaml:4:5: ",
      "services[0] needs selector: {name: <workload_identity>} or {labels: {key: value}} (exactly one)",
    );
    expectMessage(
      caught(() =>
        parse(`  - type: workload-identity-x509\n${dest}    selector: {name: a, labels: {x: y}}\n`),
      ),
      "t.yaml:6:15: ",
      "services[0].selector must have exactly one of name or labels, not both",
    );
    expect(
      caught(() => parse(`  - type: workload-identity-x509\n${dest}    selector: {nam: a}\n`)).message,
    ).toContain('unknown field "nam"');
  });

  test("tbot configure workload-identity-x509 --name-selector / --label-selector", async () => {
    const { config } = await build([
      "configure",
      "workload-identity-x509",
      ...flags,
      "--destination",
      "/opt/svid",
      "--label-selector",
      "env=prod,team=a",
    ]);
    expect(config.services[0]).toMatchObject({
      type: "workload-identity-x509",
      selector: { labels: { env: "prod", team: "a" } },
    });
    expect(parseConfig(renderConfigYaml(config), "again.yaml").config.services).toEqual(config.services);
    const named = await build([
      "start",
      "workload-identity-x509",
      ...flags,
      "--destination",
      "/o",
      "--name-selector",
      "w",
    ]);
    expect(named.config.services[0]).toMatchObject({ selector: { name: "w" } });
    const none = await caughtAsync(() =>
      build(["start", "workload-identity-x509", ...flags, "--destination", "/o"]),
    );
    expect(none.message).toContain("needs selector");
  });

  test("files: svid.pem, svid_key.pem (PKCS#8 of the key), svid_bundle.pem", async () => {
    const key = await freshKey();
    const files = workloadX509Files(
      {
        trust_domain: "example.org",
        svids: [
          { name: "a", spiffe_id: "spiffe://example.org/a", cert: "CERT-A", expires: "", serial: "1" },
          { name: "b", spiffe_id: "spiffe://example.org/b", cert: "CERT-B\n", expires: "", serial: "2" },
        ],
        bundle: ["CA1", "CA2\n"],
        skipped: [],
      },
      key.keyPem,
    );
    expect(Object.keys(files).sort()).toEqual(["svid.pem", "svid_bundle.pem", "svid_key.pem"]);
    expect(files["svid.pem"]).toBe("CERT-A\n");
    expect(files["svid_bundle.pem"]).toBe("CA1\nCA2\n");
    expect(files["svid_key.pem"]).toStartWith("-----BEGIN PRIVATE KEY-----\n");
    const dir = tempDir("wi-");
    writeFileSync(join(dir, "k.pem"), files["svid_key.pem"]!);
    writeFileSync(join(dir, "orig.pem"), key.keyPem);
    const pub = (f: string) => execFileSync("openssl", ["pkey", "-in", join(dir, f), "-pubout"]).toString();
    expect(pub("k.pem")).toBe(pub("orig.pem"));
  });
});

describe("workload-identity-jwt", () => {
  test("decodes selector and audiences; round-trips; start mode with --audience", async () => {
    const { config } = parse(
      `  - type: workload-identity-jwt\n${dest}    selector: {name: w}\n    audiences: [https://api.example.com, other]\n`,
    );
    expect(config.services[0]).toMatchObject({
      type: "workload-identity-jwt",
      selector: { name: "w" },
      audiences: ["https://api.example.com", "other"],
    });
    expect(parseConfig(renderConfigYaml(config), "again.yaml").config.services).toEqual(config.services);
    const started = await build([
      "start",
      "workload-identity-jwt",
      ...flags,
      "--destination",
      "/o",
      "--name-selector",
      "w",
      "--audience",
      "a,b",
    ]);
    expect(started.config.services[0]).toMatchObject({ audiences: ["a", "b"], selector: { name: "w" } });
  });

  test("no audience (absent or empty list) and a string are refused in one line", async () => {
    expectMessage(
      caught(() => parse(`  - type: workload-identity-jwt\n${dest}    selector: {name: w}\n`)),
      "t.yaml:4:5: ",
      'services[0] (workload-identity-jwt) needs at least one audience: audiences: ["https://api.example.com"]',
    );
    expectMessage(
      caught(() =>
        parse(`  - type: workload-identity-jwt\n${dest}    selector: {name: w}\n    audiences: []\n`),
      ),
      "t.yaml:7:16: ",
      "needs at least one audience",
    );
    expect(
      caught(() =>
        parse(`  - type: workload-identity-jwt\n${dest}    selector: {name: w}\n    audiences: a\n`),
      ).message,
    ).toContain("services[0].audiences must be a list");
    const none = await caughtAsync(() =>
      build(["start", "workload-identity-jwt", ...flags, "--destination", "/o", "--name-selector", "w"]),
    );
    expect(none.message).toContain("needs at least one audience");
  });
});

describe("workload-identity-api", () => {
  const api =
    "  - type: workload-identity-api\n    listen: unix:///run/tbot/workload.sock\n    selector: {name: w}\n";

  test("decodes listen, selector, attestors.unix; no destination; daemon only; round-trips", () => {
    const d = outputDescriptor("workload-identity-api")!;
    expect(d.daemonOnly).toBe(true);
    expect(d.noDestination).toBe(true);
    const { config } = parse(api, "    attestors:\n      unix: {}\n");
    expect(config.services[0]).toMatchObject({
      type: "workload-identity-api",
      listen: "unix:///run/tbot/workload.sock",
      selector: { name: "w" },
      attestors: ["unix"],
    });
    const yaml = renderConfigYaml(config);
    expect(yaml).not.toContain("destination");
    expect(yaml).toContain("listen: unix:///run/tbot/workload.sock");
    expect(parseConfig(yaml, "again.yaml").config.services).toEqual(config.services);
  });

  test("refusals: oneshot, tcp://, a relative path, no listen, other attestors, a destination", () => {
    expectMessage(
      caught(() =>
        parseConfig(`version: v2\noneshot: true\nproxy_server: example.com:443\nservices:\n${api}`, "t.yaml"),
      ),
      "t.yaml:5:5: ",
      "services[0] (workload-identity-api) runs continuously and cannot be used with oneshot",
    );
    expectMessage(
      caught(() =>
        parse("  - type: workload-identity-api\n    listen: tcp://127.0.0.1:9000\n    selector: {name: w}\n"),
      ),
      "t.yaml:5:13: ",
      'services[0].listen "tcp://127.0.0.1:9000": tcp:// is not supported by this build; use unix:///path/to/workload.sock',
    );
    expect(listenProblem("unix://relative.sock")).toContain("must be unix:///absolute/path");
    expect(listenProblem("unix:///run/x.sock")).toBeUndefined();
    expectMessage(
      caught(() => parse("  - type: workload-identity-api\n    selector: {name: w}\n")),
      "t.yaml:4:5: ",
      "services[0] (workload-identity-api) needs listen",
    );
    expectMessage(
      caught(() => parse(api, "    attestors:\n      kubernetes: {}\n")),
      "t.yaml:8:19: ",
      "services[0].attestors.kubernetes: the kubernetes attestor is not supported by this build; only unix is",
    );
    expectMessage(
      caught(() => parse(api, "    destination: {type: directory, path: /x}\n")),
      "t.yaml:7:18: ",
      "services[0].destination: a workload-identity-api service writes no files; remove destination",
    );
  });

  test("tbot configure workload-identity-api --listen --name-selector (no destination); --destination refused; --oneshot refused", async () => {
    const { config } = await build([
      "configure",
      "workload-identity-api",
      ...flags,
      "--listen",
      "unix:///run/tbot/workload.sock",
      "--name-selector",
      "w",
    ]);
    expect(config.services[0]).toMatchObject({
      type: "workload-identity-api",
      listen: "unix:///run/tbot/workload.sock",
      selector: { name: "w" },
    });
    const yaml = renderConfigYaml(config);
    expect(yaml).not.toContain("destination");
    expect(parseConfig(yaml, "again.yaml").config.services).toEqual(config.services);
    const dest = await caughtAsync(() =>
      build([
        "start",
        "workload-identity-api",
        ...flags,
        "--destination",
        "/o",
        "--listen",
        "unix:///x.sock",
      ]),
    );
    expect(dest.message).toContain(
      '"tbot start workload-identity-api" writes no files: remove --destination',
    );
    const once = await caughtAsync(() =>
      build([
        "start",
        "workload-identity-api",
        ...flags,
        "--oneshot",
        "--listen",
        "unix:///x.sock",
        "--name-selector",
        "w",
      ]),
    );
    expect(once.message).toContain("runs continuously and cannot be used with oneshot");
  });
});
