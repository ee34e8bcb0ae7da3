// Every malformed file yields one UserError "file:line:col: message" pointing at the culprit.

import { describe, expect, test } from "bun:test";
import { parseResources } from "../../../src/auth/resources/index.ts";
import { UserError } from "../../../src/util/errors.ts";
import { ed25519CertificateLine, ed25519PublicKey } from "./fixtures.ts";

const bot = (spec: string) => `kind: bot\nversion: v1\nmetadata:\n  name: ci\nspec:\n${spec}`;
const token = (spec: string) => `kind: token\nversion: v2\nmetadata:\n  name: t1\nspec:\n${spec}`;
const bkp = (block: string) =>
  token(`  roles: [Bot]\n  bot_name: ci\n  join_method: bound_keypair\n  bound_keypair:\n${block}`);
const tpm = (block: string) => token(`  roles: [Bot]\n  bot_name: ci\n  join_method: tpm\n  tpm:\n${block}`);
const role = (spec: string) => `kind: role\nversion: v7\nmetadata:\n  name: r\nspec:\n${spec}`;
const hash64 = "d4b45864d9d6fabfc568d74f26c35ababde2105337d7af9a6605e1c56c891aa6";

// [what, file text, expected "line:col", expected message fragment]
const cases: [string, string, string, string][] = [
  [
    "unknown kind",
    "kind: user\nversion: v2\nmetadata: {name: a}\n",
    "1:7",
    'unsupported resource kind "user" (supported: bot, token, role, app, db, workload_identity)',
  ],
  ["missing kind", "version: v1\nmetadata: {name: a}\n", "1:1", 'unsupported resource kind ""'],
  [
    "a kind named after an Object.prototype property (the request fuzzer's last 500)",
    "kind: toString\nversion: v1\nmetadata: {name: a}\n",
    "1:7",
    'unsupported resource kind "toString" (supported: bot, token, role, app, db, workload_identity)',
  ],
  [
    "misspelt top-level key",
    "kind: bot\nversoin: v1\n",
    "2:1",
    'unknown field "versoin" (did you mean "version"?)',
  ],
  [
    "bad bot version",
    "kind: bot\nversion: v2\nmetadata: {name: a}\n",
    "2:10",
    'unsupported version "v2" for kind bot (supported: v1)',
  ],
  [
    "bad role version",
    "kind: role\nversion: v9\nmetadata: {name: a}\n",
    "2:10",
    'unsupported version "v9" for kind role',
  ],
  [
    "missing name",
    "kind: bot\nversion: v1\nmetadata:\n  labels: {a: b}\n",
    "4:3",
    "metadata.name is required",
  ],
  [
    "invalid bot name",
    "kind: bot\nversion: v1\nmetadata:\n  name: My_Bot\n",
    "4:9",
    'bot name "My_Bot" is invalid',
  ],
  [
    "unknown key in bot spec, with suggestion",
    bot("  rolse: [access]\n"),
    "6:3",
    'unknown field "rolse" in spec (did you mean "roles"?)',
  ],
  [
    "wrong type for roles",
    bot("  roles: access\n"),
    "6:10",
    'spec.roles must be a list, got the string "access"',
  ],
  [
    "trait values not a list",
    bot("  traits:\n    - name: logins\n      values: root\n"),
    "8:15",
    "spec.traits[0].values must be a list",
  ],
  [
    "bad duration in max_session_ttl",
    bot("  max_session_ttl: 12 hours\n"),
    "6:20",
    'invalid duration "12 hours"',
  ],
  [
    "max_session_ttl over 168h",
    bot("  max_session_ttl: 200h\n"),
    "6:20",
    "spec.max_session_ttl must be at most 168h, got 200h0m0s",
  ],
  [
    "bad metadata.expires",
    "kind: token\nversion: v2\nmetadata:\n  name: t\n  expires: tomorrow\nspec: {roles: [Node]}\n",
    "5:12",
    "metadata.expires must be an RFC 3339 time",
  ],
  ["token without roles", token("  join_method: token\n"), "6:3", "spec.roles is required"],
  ["token with empty roles", token("  roles: []\n"), "6:10", "spec.roles must name at least one system role"],
  [
    "unknown system role",
    token("  roles: [Bott]\n  bot_name: ci\n"),
    "6:11",
    'unknown system role "Bott" (did you mean "Bot"?)',
  ],
  [
    "bot_name missing for a Bot token",
    token("  roles: [Bot]\n  join_method: token\n"),
    "6:10",
    "spec.bot_name is required when spec.roles includes Bot",
  ],
  [
    "bot_name without Bot role",
    token("  roles: [Node]\n  bot_name: ci\n"),
    "7:13",
    "spec.bot_name is set but spec.roles does not include Bot",
  ],
  [
    "bad join_method",
    token("  roles: [Bot]\n  bot_name: ci\n  join_method: tokne\n"),
    "8:16",
    'unrecognized join method "tokne" (did you mean "token"?)',
  ],
  [
    "unknown key in token spec",
    token("  roles: [Bot]\n  bot_name: ci\n  boundkeypair: {}\n"),
    "8:3",
    'unknown field "boundkeypair" in spec (did you mean "bound_keypair"?)',
  ],
  [
    "bound_keypair block with join_method token",
    token("  roles: [Bot]\n  bot_name: ci\n  bound_keypair: {recovery: {limit: 2}}\n"),
    "8:18",
    'spec.bound_keypair is only used with join_method: bound_keypair, but join_method is "token"',
  ],
  [
    "bad recovery mode",
    bkp("    recovery:\n      mode: lenient\n"),
    "11:13",
    'unknown recovery mode "lenient" in spec.bound_keypair.recovery.mode (expected one of: standard, relaxed, insecure)',
  ],
  [
    "negative recovery limit",
    bkp("    recovery:\n      limit: -1\n"),
    "11:14",
    "spec.bound_keypair.recovery.limit must be 0 or more, got -1",
  ],
  [
    "non-integer recovery limit",
    bkp("    recovery:\n      limit: 1.5\n"),
    "11:14",
    "spec.bound_keypair.recovery.limit must be an integer",
  ],
  [
    "malformed initial_public_key (truncated)",
    bkp(`    onboarding:\n      initial_public_key: "${ed25519PublicKey.slice(0, 60)}"\n`),
    "11:27",
    "malformed public key in token",
  ],
  [
    "malformed initial_public_key (a certificate)",
    bkp(`    onboarding:\n      initial_public_key: "${ed25519CertificateLine}"\n`),
    "11:27",
    'malformed public key in token: spec.bound_keypair.onboarding.initial_public_key: key type "ssh-ed25519-cert-v01@openssh.com"',
  ],
  [
    "registration_secret and initial_public_key both set",
    bkp(
      `    onboarding:\n      initial_public_key: "${ed25519PublicKey}"\n      registration_secret: s3cret\n`,
    ),
    "12:28",
    "mutually exclusive",
  ],
  [
    "must_register_before not RFC 3339",
    bkp("    onboarding:\n      must_register_before: 2025-12-01\n"),
    "11:29",
    "spec.bound_keypair.onboarding.must_register_before must be an RFC 3339 time",
  ],
  [
    "unknown key in bound_keypair.onboarding",
    bkp("    onboarding:\n      registration_secrets: x\n"),
    "11:7",
    'unknown field "registration_secrets" in spec.bound_keypair.onboarding (did you mean "registration_secret"?)',
  ],
  [
    "tpm join without tpm block",
    token("  roles: [Bot]\n  bot_name: ci\n  join_method: tpm\n"),
    "8:16",
    'join_method "tpm" needs a spec.tpm block',
  ],
  ["tpm without allow rules", tpm("    allow: []\n"), "10:12", "spec.tpm.allow needs at least one rule"],
  [
    "tpm rule without hash or serial",
    tpm("    allow:\n      - description: server-01\n"),
    "11:9",
    "spec.tpm.allow[0] needs ek_public_hash or ek_certificate_serial",
  ],
  [
    "tpm hash of the wrong length",
    tpm(`    allow:\n      - ek_public_hash: ${hash64.slice(2)}\n`),
    "11:25",
    "spec.tpm.allow[0].ek_public_hash must be 64 hex digits",
  ],
  [
    "tpm serial not colon-separated hex",
    tpm("    allow:\n      - ek_certificate_serial: 73dfdcbd\n"),
    "11:32",
    "must be colon-separated hex bytes",
  ],
  [
    "tpm CA that is not PEM",
    tpm(`    ekcert_allowed_cas: ["not a certificate"]\n    allow: [{ek_public_hash: ${hash64}}]\n`),
    "10:26",
    "spec.tpm.ekcert_allowed_cas[0] must be a PEM certificate",
  ],
  [
    "tpm CA that is a private key",
    tpm(
      `    ekcert_allowed_cas:\n      - "-----BEGIN PRIVATE KEY-----\\nAAAA\\n-----END PRIVATE KEY-----"\n    allow: [{ek_public_hash: ${hash64}}]\n`,
    ),
    "11:9",
    "found a PRIVATE KEY block",
  ],
  [
    "unknown role condition, with suggestion",
    role("  allow:\n    login: [root]\n"),
    "7:5",
    'unknown field "login" in spec.allow (did you mean "logins"?)',
  ],
  [
    "unknown role option",
    role("  options:\n    max_sesion_ttl: 8h\n"),
    "7:5",
    'unknown field "max_sesion_ttl" in spec.options (did you mean "max_session_ttl"?)',
  ],
  [
    "role node_labels value is a mapping",
    role("  allow:\n    node_labels:\n      env: {a: b}\n"),
    "8:12",
    "spec.allow.node_labels.env must be a string, got a mapping",
  ],
  [
    "role max_session_ttl without unit",
    role("  options:\n    max_session_ttl: 30\n"),
    "7:22",
    'must be a duration with a unit such as "20m" or "1h", got 30',
  ],
  ["YAML syntax error", "kind: bot\nmetadata:\n  name: [a\n", "4:1", ""],
  ["duplicate key", "kind: bot\nkind: role\n", "2:1", 'duplicate key "kind"'],
  [
    "YAML syntax error in the second document",
    `${bot("  roles: []\n")}---\nkind: bot\nmetadata:\n  name: "ci\n`,
    "11:1",
    'Missing closing "quote',
  ],
  [
    "error in the second document points at its absolute line",
    `${bot("  roles: []\n")}---\nkind: bot\nversion: v1\nmetadata:\n  name: ci\nspec:\n  roles: 5\n`,
    "13:10",
    "spec.roles must be a list, got the number 5",
  ],
];

describe("malformed resource files", () => {
  test.each(cases)("%s", (_what, text, at, fragment) => {
    let error: unknown;
    try {
      parseResources(text, "res.yaml");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UserError);
    const message = (error as UserError).message;
    expect(message.startsWith(`res.yaml:${at}: `)).toBe(true);
    expect(message).toContain(fragment);
    expect(message).not.toContain("\n");
  });

  test("an empty file says so", () => {
    expect(() => parseResources("# nothing\n", "empty.yaml")).toThrow("empty.yaml: no resources found");
  });
});
