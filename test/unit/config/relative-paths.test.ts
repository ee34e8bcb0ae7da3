// Relative paths, as the reference's guides write them (`--destination-dir=./tbot-user`,
// `path: ./tbot-user`): kept as written by the config layer (what `tbot configure` prints),
// made absolute against the working directory by resolveConfigPaths (what `tbot start` runs).

import { describe, expect, test } from "bun:test";
import {
  type BotConfig,
  defaultConfig,
  directoryDestination,
  parseConfig,
  parseDestinationUri,
  resolveConfigPaths,
} from "../../../src/agent/config/index.ts";

const PIN = `sha256:${"ab".repeat(32)}`;

describe("the config layer keeps relative paths as written", () => {
  test("v2 storage and destination paths", () => {
    const { config } = parseConfig(
      `version: v2
proxy_server: p.example.com:443
storage: {type: directory, path: ./data}
services:
  - type: identity
    destination: {type: directory, path: ./tbot-user}
  - type: identity
    destination: {type: directory, path: ../sibling/out}
`,
      "t.yaml",
    );
    expect(config.storage).toEqual(directoryDestination("./data"));
    expect(config.services.map((s) => s.destination)).toEqual([
      directoryDestination("./tbot-user"),
      directoryDestination("../sibling/out"),
    ]);
  });

  test("v1 legacy forms: directory: ./x for storage and destinations", () => {
    const { config } = parseConfig(
      "auth_server: a.example.com:3025\nstorage: {directory: ./data}\ndestinations:\n  - directory: ./out\n",
      "t.yaml",
    );
    expect(config.storage).toEqual(directoryDestination("./data"));
    expect(config.services[0]?.destination).toEqual(directoryDestination("./out"));
  });

  test("destination URIs: a bare relative path is kept, or resolved when a cwd is given; file://./x is refused", () => {
    expect(parseDestinationUri("./data")).toEqual(directoryDestination("./data"));
    expect(parseDestinationUri("data")).toEqual(directoryDestination("data"));
    expect(parseDestinationUri("./data", "/srv")).toEqual(directoryDestination("/srv/data"));
    // Like the reference's URL parsing: "." is the host of file://./x, and not a local one.
    expect(parseDestinationUri("file://./x")).toContain("file-backed data storage must be on the local host");
    expect(parseDestinationUri("file://./x")).toContain("a plain path (such as ./dir)");
  });
});

describe("resolveConfigPaths", () => {
  const relative = (): BotConfig => ({
    ...defaultConfig(),
    authServer: "a.example.com:3025",
    onboarding: {
      joinMethod: "bound_keypair",
      token: "./token-file",
      caPins: [],
      caPath: "ca.pem",
      boundKeypair: { registrationSecretPath: "./secret", staticPrivateKeyPath: "keys/static.key" },
    },
    storage: directoryDestination("./tbot-data"),
    services: [
      {
        type: "identity",
        destination: directoryDestination("./tbot-user"),
        sshConfig: true,
        allowReissue: false,
      },
      {
        type: "identity",
        destination: directoryDestination("/abs/out"),
        sshConfig: true,
        allowReissue: false,
      },
      { type: "identity", destination: { type: "memory" }, sshConfig: false, allowReissue: false },
      {
        type: "ssh_host",
        destination: directoryDestination("../host"),
        principals: ["h"],
        caType: "user",
        labels: {},
      },
    ],
  });

  test("makes every relative path absolute against cwd, and leaves absolute ones alone", () => {
    const r = resolveConfigPaths(relative(), "/home/me/work");
    expect(r.storage).toEqual(directoryDestination("/home/me/work/tbot-data"));
    expect(r.services.map((s) => s.destination)).toEqual([
      directoryDestination("/home/me/work/tbot-user"),
      directoryDestination("/abs/out"),
      { type: "memory" },
      directoryDestination("/home/me/host"),
    ]);
    expect(r.onboarding.caPath).toBe("/home/me/work/ca.pem");
    expect(r.onboarding.boundKeypair).toEqual({
      registrationSecretPath: "/home/me/work/secret",
      staticPrivateKeyPath: "/home/me/work/keys/static.key",
    });
  });

  test("the token is a value unless such a file exists, so it is left as written", () => {
    expect(resolveConfigPaths(relative(), "/w").onboarding.token).toBe("./token-file");
  });

  test("destination options survive, and the config given is not changed", () => {
    const c = relative();
    c.storage = { ...directoryDestination("d"), symlinks: "insecure", acls: "off" };
    const before = structuredClone(c);
    const r = resolveConfigPaths(c, "/w");
    expect(r.storage).toEqual({ ...directoryDestination("/w/d"), symlinks: "insecure", acls: "off" });
    expect(c).toEqual(before);
  });

  test("a config without relative paths comes back equal", () => {
    const c: BotConfig = {
      ...defaultConfig(),
      authServer: "a:3025",
      onboarding: { joinMethod: "token", token: "t", caPins: [PIN] },
    };
    expect(resolveConfigPaths(c, "/w")).toEqual(c);
  });
});
