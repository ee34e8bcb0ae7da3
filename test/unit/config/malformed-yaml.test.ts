// Every malformed tbot.yaml must fail with ONE UserError of one line that names the place
// (file:line:col) and what to do. Line and column are asserted for each case.

import { describe, test } from "bun:test";
import { parseConfig } from "../../../src/agent/config/index.ts";
import { caught, expectMessage } from "./expect-error.ts";

/** Two valid lines most cases build on; their own lines start at 3. */
const H = "version: v2\nproxy_server: example.com:443\n";
const PIN = `sha256:${"ab".repeat(32)}`;

interface Case {
  name: string;
  yaml: string;
  /** [line, col], or null for a problem of the whole file ("t.yaml: "). */
  at: [number, number] | null;
  says: string;
}

const cases: Case[] = [
  // YAML syntax
  { name: "unclosed flow sequence", yaml: `${H}services: [a, b\n`, at: [4, 1], says: "" },
  { name: "duplicate key", yaml: "version: v2\nversion: v2\n", at: [2, 1], says: 'duplicate key "version"' },
  {
    name: "duplicate key further down, as a new user met it",
    yaml: `${H}oneshot: true\nstorage:\n  type: memory\noneshot: false\n`,
    at: [6, 1],
    says: 'duplicate key "oneshot"',
  },
  { name: "tab indentation", yaml: `${H}onboarding:\n\ttoken: x\n`, at: [4, 1], says: "" },
  { name: "root is a list", yaml: "- version: v2\n", at: [1, 1], says: "must be a mapping" },
  { name: "empty file", yaml: "# nothing here\n", at: null, says: "the config file is empty" },
  {
    name: "100,000 nested [ (the config fuzzer's stack overflow)",
    yaml: `${H}services: ${"[".repeat(100_000)}\n`,
    at: [3, 75],
    says: "nested more than 64 levels deep",
  },
  // version
  {
    name: "bad version",
    yaml: "version: v3\nproxy_server: a.b:443\n",
    at: [1, 10],
    says: 'unrecognized config version "v3"',
  },
  // unknown keys at several depths
  {
    name: "unknown top-level key",
    yaml: "version: v2\nproxy_sever: a.b:443\n",
    at: [2, 1],
    says: 'unknown field "proxy_sever" (did you mean "proxy_server"?)',
  },
  {
    name: "unknown key in onboarding",
    yaml: `${H}onboarding:\n  join_method: token\n  tokn: abc\n`,
    at: [5, 3],
    says: 'unknown field "tokn" in onboarding',
  },
  {
    name: "unknown key in bound_keypair",
    yaml: `${H}onboarding:\n  bound_keypair:\n    secret: x\n`,
    at: [5, 5],
    says: 'unknown field "secret" in onboarding.bound_keypair',
  },
  {
    name: "unknown key in storage",
    yaml: `${H}storage:\n  type: directory\n  path: /var/lib/bot\n  mode: 0700\n`,
    at: [6, 3],
    says: 'unknown field "mode" in storage',
  },
  {
    name: "unknown key in a service",
    yaml: `${H}services:\n  - type: identity\n    destination: {type: memory}\n    ssh_configs: on\n`,
    at: [6, 5],
    says: 'unknown field "ssh_configs" in services[0]',
  },
  {
    name: "unknown key in a destination",
    yaml: `${H}services:\n  - type: identity\n    destination:\n      type: directory\n      pth: /opt/out\n`,
    at: [7, 7],
    says: 'unknown field "pth" in services[0].destination',
  },
  {
    name: "unknown key in a reader",
    yaml: `${H}services:\n  - type: identity\n    destination:\n      type: directory\n      path: /opt/out\n      readers:\n        - usr: ci\n`,
    at: [9, 11],
    says: 'unknown field "usr" in services[0].destination.readers[0]',
  },
  // wrong types
  {
    name: "boolean that is not one",
    yaml: `${H}oneshot: maybe\n`,
    at: [3, 10],
    says: "oneshot must be true or false",
  },
  {
    name: "services is a string",
    yaml: `${H}services: identity\n`,
    at: [3, 11],
    says: "services must be a list",
  },
  {
    name: "ca_pins is a string",
    yaml: `${H}onboarding:\n  ca_pins: ${PIN}\n`,
    at: [4, 12],
    says: "onboarding.ca_pins must be a list",
  },
  {
    name: "ssh_config neither on nor off",
    yaml: `${H}services:\n  - type: identity\n    ssh_config: maybe\n    destination: {type: memory}\n`,
    at: [5, 17],
    says: 'services[0].ssh_config must be "on" or "off"',
  },
  {
    name: "symlinks not a mode",
    yaml: `${H}storage:\n  type: directory\n  path: /b\n  symlinks: never\n`,
    at: [6, 13],
    says: "storage.symlinks must be one of try-secure, secure, insecure",
  },
  // durations
  {
    name: "duration without unit letter",
    yaml: `${H}credential_ttl: 5x\n`,
    at: [3, 17],
    says: 'invalid duration "5x"',
  },
  { name: "negative duration", yaml: `${H}renewal_interval: -5m\n`, at: [3, 19], says: "negative duration" },
  { name: "bare number duration", yaml: `${H}credential_ttl: 3600\n`, at: [3, 17], says: "with a unit" },
  {
    name: "bad certificate_ttl",
    yaml: `${H}certificate_ttl: 1d\n`,
    at: [3, 18],
    says: 'invalid duration "1d"',
  },
  // addresses
  {
    name: "address with a scheme",
    yaml: "version: v2\nproxy_server: https://example.com\n",
    at: [2, 15],
    says: 'proxy_server: "https://example.com" has a URL scheme',
  },
  {
    name: "port out of range",
    yaml: "version: v2\nproxy_server: example.com:99999\n",
    at: [2, 15],
    says: "port 99999",
  },
  {
    name: "port not a number",
    yaml: "version: v2\nauth_server: example.com:abc\n",
    at: [2, 14],
    says: '"abc" in "example.com:abc" is not a port number',
  },
  {
    name: "port zero",
    yaml: "version: v2\nauth_server: example.com:0\n",
    at: [2, 14],
    says: "out of range (1-65535)",
  },
  {
    name: "bad host name",
    yaml: "version: v2\nproxy_server: ex..ample.com:443\n",
    at: [2, 15],
    says: "not a valid host name",
  },
  {
    name: "unbracketed IPv6",
    yaml: "version: v2\nauth_server: ::1:3025\n",
    at: [2, 14],
    says: "in brackets",
  },
  { name: "diag_addr without port", yaml: `${H}diag_addr: localhost\n`, at: [3, 12], says: "has no port" },
  {
    name: "both addresses",
    yaml: `${H}auth_server: auth.example.com:3025\n`,
    at: [3, 14],
    says: "proxy_server and auth_server are both set",
  },
  {
    name: "no address",
    yaml: "version: v2\nonboarding:\n  join_method: token\n",
    at: null,
    says: "either a proxy or auth address must be set",
  },
  // onboarding
  {
    name: "unknown join method",
    yaml: `${H}onboarding:\n  join_method: magic\n`,
    at: [4, 16],
    says: 'unrecognized join method: "magic"',
  },
  {
    name: "join method of the reference this build lacks",
    yaml: `${H}onboarding:\n  join_method: ec2\n`,
    at: [4, 16],
    says: 'join method "ec2" is not supported by this build',
  },
  {
    name: "another method's block",
    yaml: `${H}onboarding:\n  azure:\n    client_id: x\n`,
    at: [5, 5],
    says: "azure join method, which is not supported",
  },
  {
    name: "ca_pins with ca_path",
    yaml: `${H}onboarding:\n  ca_pins: [${PIN}]\n  ca_path: /etc/ca.pem\n`,
    at: [5, 12],
    says: "the options ca-pin and ca-path are mutually exclusive",
  },
  {
    name: "ca_pins with insecure",
    yaml: `${H}insecure: true\nonboarding:\n  ca_pins:\n    - ${PIN}\n`,
    at: [6, 5],
    says: "the option ca-pin is mutually exclusive with --insecure",
  },
  {
    name: "ca_path with insecure",
    yaml: `${H}insecure: true\nonboarding:\n  ca_path: /etc/ca.pem\n`,
    at: [5, 12],
    says: "the option ca-path is mutually exclusive with --insecure",
  },
  {
    name: "malformed pin",
    yaml: `${H}onboarding:\n  ca_pins:\n    - ${PIN}\n    - sha256:abc\n`,
    at: [6, 7],
    says: 'ca_pins[1]: "sha256:abc" is not a CA pin',
  },
  {
    name: "secret and secret path",
    yaml: `${H}onboarding:\n  join_method: bound_keypair\n  token: bot\n  bound_keypair:\n    registration_secret: s3cret\n    registration_secret_path: /etc/secret\n`,
    at: [8, 31],
    says: "registration_secret and registration_secret_path are mutually exclusive",
  },
  {
    name: "bad join_uri",
    yaml: "version: v2\njoin_uri: https://bot:s3cret@example.com\n",
    at: [2, 11],
    says: "invalid join URI",
  },
  {
    name: "join_uri with proxy_server",
    yaml: `${H}join_uri: tbot+proxy+bound-keypair://bot:s3cret@example.com:443\n`,
    at: [2, 15],
    says: "join_uri cannot be combined with proxy_server",
  },
  // storage and destinations
  // A relative path is accepted (test/unit/config/relative-paths.test.ts); an empty one is not.
  {
    name: "empty storage path",
    yaml: `${H}storage:\n  type: directory\n  path: ""\n`,
    at: [5, 9],
    says: "storage.path must not be empty",
  },
  // Refused by `tbot start` for the content alone, so by the shared validation too.
  {
    name: "a reader that is neither a name nor a numeric ID",
    yaml: `${H}services:\n  - type: identity\n    destination:\n      type: directory\n      path: /o\n      readers: [{user: "a:b"}]\n`,
    at: [8, 16],
    says: 'services[0].destination.readers[0].user "a:b" is not a user name or a numeric uid',
  },
  {
    name: "memory storage without a token (every start joins)",
    yaml: `${H}storage: {type: memory}\n`,
    at: [3, 10],
    says: "storage is in memory, so tbot joins on every start, and no join token is configured",
  },
  {
    name: "memory storage, an auth server and nothing to verify it with",
    yaml: "version: v2\nauth_server: a.example.com:3025\nonboarding: {token: t}\nstorage: {type: memory}\n",
    at: [2, 14],
    says: "cannot verify the auth server on first contact (storage is in memory, so every start joins)",
  },
  {
    name: "kubernetes_secret storage",
    yaml: `${H}storage:\n  type: kubernetes_secret\n  name: bot\n`,
    at: [4, 9],
    says: '"kubernetes_secret" is not supported yet',
  },
  {
    name: "unknown destination type",
    yaml: `${H}storage:\n  type: s3\n`,
    at: [4, 9],
    says: "unrecognized destination type (s3)",
  },
  {
    name: "readers on storage",
    yaml: `${H}storage:\n  type: directory\n  path: /b\n  readers: [{user: ci}]\n`,
    at: [6, 12],
    says: "readers apply to service destinations",
  },
  {
    name: "reader with user and group",
    yaml: `${H}services:\n  - type: identity\n    destination:\n      type: directory\n      path: /o\n      readers: [{user: a, group: b}]\n`,
    at: [8, 17],
    says: "exactly one of user or group",
  },
  // services
  {
    name: "unknown service type",
    yaml: `${H}services:\n  - type: identiy\n`,
    at: [4, 11],
    says: "unrecognized service type (identiy)",
  },
  {
    name: "reference service type this build lacks",
    yaml: `${H}services:\n  - type: database-tunnel\n    listen: tcp://127.0.0.1:25432\n`,
    at: [4, 11],
    says: 'service type "database-tunnel" is not supported by this build',
  },
  {
    name: "service without type",
    yaml: `${H}services:\n  - destination: {type: memory}\n`,
    at: [4, 5],
    says: "services[0].type is required",
  },
  {
    name: "service without destination",
    yaml: `${H}services:\n  - type: identity\n`,
    at: [4, 5],
    says: "services[0].destination is required",
  },
  {
    name: "empty destination path",
    yaml: `${H}services:\n  - type: identity\n    destination:\n      type: directory\n      path: " "\n`,
    at: [7, 13],
    says: "services[0].destination.path must not be empty",
  },
  {
    name: "empty v1 destination directory",
    yaml: "auth_server: a.b:3025\ndestinations:\n  - directory: ''\n",
    at: [3, 16],
    says: "destinations[0].directory must not be empty",
  },
  {
    name: "a numeric reader ID out of range",
    yaml: `${H}services:\n  - type: identity\n    destination:\n      type: directory\n      path: /o\n      readers: [{group: 99999999999}]\n`,
    at: [8, 16],
    says: "services[0].destination.readers[0].group 99999999999 is out of range",
  },
  {
    name: "invalid service name",
    yaml: `${H}services:\n  - type: identity\n    name: My Output\n    destination: {type: memory}\n`,
    at: [5, 11],
    says: 'services[0].name "My Output" is invalid',
  },
  {
    name: "reserved service name",
    yaml: `${H}services:\n  - type: identity\n    name: heartbeat\n    destination: {type: memory}\n`,
    at: [5, 11],
    says: "is reserved",
  },
  {
    name: "duplicate service name",
    yaml: `${H}services:\n  - type: identity\n    name: out\n    destination: {type: memory}\n  - type: identity\n    name: out\n    destination: {type: memory}\n`,
    at: [8, 11],
    says: 'services[1].name "out" is already used by services[0]',
  },
  {
    name: "roles on a service",
    yaml: `${H}services:\n  - type: identity\n    roles: [access]\n    destination: {type: memory}\n`,
    at: [5, 12],
    says: "roles field is no longer supported",
  },
  {
    name: "ssh_host without principals",
    yaml: `${H}services:\n  - type: ssh_host\n    destination: {type: memory}\n`,
    at: [4, 5],
    says: "needs at least one entry in principals",
  },
  {
    name: "ssh_host with empty principals",
    yaml: `${H}services:\n  - type: ssh_host\n    principals: []\n    destination: {type: memory}\n`,
    at: [5, 17],
    says: "needs at least one entry in principals",
  },
  {
    name: "ssh_host bad ca_type",
    yaml: `${H}services:\n  - type: ssh_host\n    principals: [h]\n    ca_type: host\n    destination: {type: memory}\n`,
    at: [6, 14],
    says: 'ca_type must be "user" or "openssh"',
  },
  {
    name: "per-service ttl without interval",
    yaml: `${H}services:\n  - type: identity\n    destination: {type: memory}\n    credential_ttl: 30m\n`,
    at: [6, 21],
    says: "sets credential_ttl without renewal_interval",
  },
  {
    name: "error in outputs keeps its own name",
    yaml: `${H}outputs:\n  - type: identity\n    name: Bad\n    destination: {type: memory}\n`,
    at: [5, 11],
    says: 'outputs[0].name "Bad" is invalid',
  },
  // v1
  {
    name: "v1 destination with an app",
    yaml: "auth_server: a.b:3025\ndestinations:\n  - directory: /opt/app\n    app: grafana\n",
    at: [4, 10],
    says: "application outputs are not supported by this build",
  },
  {
    name: "v1 destination with roles",
    yaml: "auth_server: a.b:3025\ndestinations:\n  - directory: /opt/m\n    roles: [a]\n",
    at: [4, 12],
    says: "roles field is no longer supported",
  },
  {
    name: "destinations in v2",
    yaml: `${H}destinations:\n  - directory: /opt/m\n`,
    at: [4, 3],
    says: "destinations is a version v1 field",
  },
];

describe("malformed tbot.yaml", () => {
  for (const c of cases) {
    test(c.name, () => {
      const e = caught(() => parseConfig(c.yaml, "t.yaml"));
      const prefix = c.at ? `t.yaml:${c.at[0]}:${c.at[1]}: ` : "t.yaml: ";
      expectMessage(e, prefix, c.says);
    });
  }

  test("the table covers at least 30 distinct cases", () => {
    if (new Set(cases.map((c) => c.name)).size < 30) throw new Error("too few cases");
  });

  test("a join URI in a message never shows its secret", () => {
    const e = caught(() =>
      parseConfig("version: v2\njoin_uri: tbot+proxy+magic://bot:s3cret@example.com:443\n", "t.yaml"),
    );
    expectMessage(e, "t.yaml:2:11: ", 'unrecognized join method: "magic"');
    if (e.message.includes("s3cret")) throw new Error(`secret leaked: ${e.message}`);
  });
});
