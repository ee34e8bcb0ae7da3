// Bad input never crashes: every malformed config or resource file makes the compiled binary
// exit 1 with one line "ERROR: <file>:<line>:<col>: <what is wrong>", and no stack trace.

import { beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { tbotBin } from "../harness/binary.ts";
import { cleanupAfterFile, run, tempDir } from "../harness/proc.ts";
import { startTauth, type TauthHandle } from "../harness/tauth.ts";

cleanupAfterFile();

const pin = `sha256:${"a".repeat(64)}`;
const ok = `version: v2
auth_server: 127.0.0.1:3025
onboarding:
  join_method: token
  token: abc
  ca_pins: [${pin}]
`;

// [name, file text, line, col, message fragment]
const configs: [string, string, number, number, string][] = [
  ["YAML syntax", "version: v2\nauth_server: [127.0.0.1:3025\n", 3, 1, ""],
  ["unknown top-level key", `${ok}renewal_intervall: 20m\n`, 7, 1, 'unknown field "renewal_intervall"'],
  ["unknown onboarding key", `${ok}  tokn: x\n`, 7, 3, 'unknown field "tokn"'],
  [
    "unknown service key",
    `${ok}services:\n  - type: identity\n    destinaton: {type: memory}\n`,
    9,
    5,
    'unknown field "destinaton"',
  ],
  ["wrong type oneshot", `${ok}oneshot: maybe\n`, 7, 10, "oneshot"],
  ["services not a list", `${ok}services: identity\n`, 7, 11, "services"],
  ["bad duration", `${ok}credential_ttl: 1hour\n`, 7, 17, "invalid duration"],
  ["negative duration", `${ok}renewal_interval: -5m\n`, 7, 19, "negative"],
  ["duration without unit", `${ok}renewal_interval: 3600\n`, 7, 19, "unit"],
  ["bad port", "version: v2\nauth_server: 127.0.0.1:99999\n", 2, 14, "99999"],
  ["address with scheme", "version: v2\nproxy_server: https://example.com\n", 2, 15, ""],
  ["both addresses", `${ok}proxy_server: example.com:443\n`, 2, 14, "both set"],
  [
    "bad join method",
    ok.replace("join_method: token", "join_method: magic"),
    4,
    16,
    'unrecognized join method: "magic"',
  ],
  ["pin and path", `${ok}  ca_path: /etc/ca.pem\n`, 7, 12, "mutually exclusive"],
  ["bad pin", ok.replace(pin, "sha256:xyz"), 6, 13, "is not a CA pin"],
  ["bad version", "version: v9\nauth_server: 127.0.0.1:3025\n", 1, 10, 'unrecognized config version "v9"'],
  [
    "bad service type",
    `${ok}services:\n  - type: teleporter\n`,
    8,
    11,
    "unrecognized service type (teleporter)",
  ],
  [
    "reserved service name",
    `${ok}services:\n  - type: identity\n    name: heartbeat\n    destination: {type: memory}\n`,
    9,
    11,
    "reserved",
  ],
  [
    "roles on a service",
    `${ok}services:\n  - type: identity\n    roles: [access]\n    destination: {type: memory}\n`,
    9,
    12,
    "roles field is no longer supported",
  ],
  [
    "ssh_host without principals",
    `${ok}services:\n  - type: ssh_host\n    destination: {type: memory}\n`,
    8,
    5,
    "principals",
  ],
  // A relative path is accepted now (resolved at start, test/e2e/config-edge-cases.test.ts);
  // an empty one is still refused.
  [
    "empty destination path",
    `${ok}services:\n  - type: identity\n    destination: {type: directory, path: ""}\n`,
    9,
    42,
    "services[0].destination.path must not be empty",
  ],
  [
    "per-service ttl without interval",
    `${ok}services:\n  - type: identity\n    credential_ttl: 1h\n    destination: {type: memory}\n`,
    9,
    21,
    "without renewal_interval",
  ],
];

const resources: [string, string, number, number, string][] = [
  [
    "unknown kind",
    "kind: robot\nversion: v1\nmetadata: {name: x}\n",
    1,
    7,
    'unsupported resource kind "robot"',
  ],
  ["bad bot version", "kind: bot\nversion: v2\nmetadata: {name: x}\nspec: {roles: [access]}\n", 2, 10, "v2"],
  [
    "bot roles not a list",
    "kind: bot\nversion: v1\nmetadata: {name: x}\nspec:\n  roles: access\n",
    5,
    10,
    "roles",
  ],
  [
    "unknown bot spec key",
    "kind: bot\nversion: v1\nmetadata: {name: x}\nspec:\n  rolez: [access]\n",
    5,
    3,
    'did you mean "roles"',
  ],
  [
    "max_session_ttl too long",
    "kind: bot\nversion: v1\nmetadata: {name: x}\nspec:\n  roles: []\n  max_session_ttl: 200h\n",
    6,
    20,
    "168h",
  ],
  [
    "token without bot_name",
    "kind: token\nversion: v2\nmetadata: {name: t}\nspec:\n  roles: [Bot]\n  join_method: token\n",
    5,
    10,
    "bot_name is required",
  ],
  [
    "bad recovery mode",
    "kind: token\nversion: v2\nmetadata: {name: t}\nspec:\n  roles: [Bot]\n  bot_name: b\n  join_method: bound_keypair\n  bound_keypair:\n    recovery: {mode: lax, limit: 1}\n",
    9,
    22,
    'unknown recovery mode "lax"',
  ],
  [
    "malformed initial key",
    "kind: token\nversion: v2\nmetadata: {name: t}\nspec:\n  roles: [Bot]\n  bot_name: b\n  join_method: bound_keypair\n  bound_keypair:\n    onboarding:\n      initial_public_key: ssh-ed25519 AAAAnotbase64!!\n",
    10,
    27,
    "public key",
  ],
  [
    "tpm without rules",
    "kind: token\nversion: v2\nmetadata: {name: t}\nspec:\n  roles: [Bot]\n  bot_name: b\n  join_method: tpm\n  tpm:\n    allow: []\n",
    9,
    12,
    "allow",
  ],
  [
    "role login typo",
    "kind: role\nversion: v7\nmetadata: {name: r}\nspec:\n  allow:\n    login: [root]\n",
    6,
    5,
    'did you mean "logins"',
  ],
  [
    "YAML syntax in second document",
    "kind: role\nversion: v7\nmetadata: {name: r}\n---\nkind: bot\nversion: v1\n  metadata: x\n",
    6,
    10,
    "Nested mappings",
  ],
  ["missing metadata name", "kind: bot\nversion: v1\nmetadata: {}\nspec: {roles: []}\n", 3, 11, "name"],
];

let auth: TauthHandle;
let dir: string;
beforeAll(async () => {
  auth = await startTauth();
  dir = tempDir("malformed-");
});

function expectOneLineError(
  r: { code: number; stderr: string; stdout: string },
  file: string,
  line: number,
  col: number,
  frag: string,
) {
  expect(r.code).toBe(1);
  const lines = r.stderr.trimEnd().split("\n");
  expect(lines.length).toBe(1);
  expect(lines[0]!.startsWith(`ERROR: ${file}:${line}:${col}: `)).toBe(true);
  expect(lines[0]).toContain(frag);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

describe("tbot rejects malformed tbot.yaml files", () => {
  test.each(configs)("%s", (name, text, line, col, frag) => {
    const file = join(dir, `${name.replace(/\W+/g, "-")}.yaml`);
    writeFileSync(file, text);
    expectOneLineError(run([tbotBin, "start", "-c", file, "--oneshot"]), file, line, col, frag);
  });
});

describe("tctl create rejects malformed resource files", () => {
  test.each(resources)("%s", (name, text, line, col, frag) => {
    const file = join(dir, `res-${name.replace(/\W+/g, "-")}.yaml`);
    writeFileSync(file, text);
    expectOneLineError(auth.tctl(["create", file]), file, line, col, frag);
  });
});

test("the inputs above number at least 30", () => {
  expect(configs.length + resources.length).toBeGreaterThanOrEqual(30);
});
