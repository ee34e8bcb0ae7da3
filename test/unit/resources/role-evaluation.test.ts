import { describe, expect, test } from "bun:test";
import {
  expandLogins,
  presetRoles,
  type RoleResource,
  rolesAllowNode,
  validateRole,
} from "../../../src/auth/resources/index.ts";

function role(
  allow: RoleResource["spec"]["allow"],
  deny: RoleResource["spec"]["deny"] = {},
  version = "v7",
): RoleResource {
  return { kind: "role", version, metadata: { name: "r" }, spec: { allow, deny, options: {} } };
}

const access = presetRoles.find((r) => r.metadata.name === "access")!;

describe("expandLogins", () => {
  test("the access preset grants the bot's logins trait", () => {
    expect(expandLogins([access], { logins: ["root", "ubuntu"] })).toEqual(["root", "ubuntu"]);
  });

  test("internal, external, bracket form, prefix and suffix", () => {
    const r = role({
      logins: [
        "{{internal.logins}}",
        "{{ external.unix }}",
        '{{external["team-name"]}}',
        "adm-{{internal.logins}}-x",
      ],
    });
    expect(expandLogins([r], { logins: ["a"], unix: ["u1"], "team-name": ["t"] })).toEqual([
      "a",
      "u1",
      "t",
      "adm-a-x",
    ]);
  });

  test("absent traits and empty values yield nothing; duplicates are removed across roles", () => {
    const r1 = role({ logins: ["{{internal.logins}}", "{{external.missing}}", "ubuntu"] });
    const r2 = role({ logins: ["ubuntu", "{{internal.logins}}"] });
    expect(expandLogins([r1, r2], { logins: ["", "ubuntu", "ci"] })).toEqual(["ubuntu", "ci"]);
  });

  test("email.local and regexp.replace, as in Teleport", () => {
    const r = role({
      logins: ["{{email.local(external.email)}}", '{{regexp.replace(external.groups, "^dev-(.*)$", "$1")}}'],
    });
    expect(
      expandLogins([r], { email: ["alice@example.com", "no-at"], groups: ["dev-ops", "sales"] }),
    ).toEqual(["alice", "ops"]);
  });

  test("denied logins are removed; a denied * removes all", () => {
    expect(expandLogins([role({ logins: ["root", "ubuntu"] }, { logins: ["root"] })], {})).toEqual([
      "ubuntu",
    ]);
    expect(expandLogins([role({ logins: ["root"] }), role({}, { logins: ["*"] })], {})).toEqual([]);
  });

  test("unknown template functions and two expressions in one value yield nothing", () => {
    expect(
      expandLogins([role({ logins: ["{{foo(internal.logins)}}", "{{internal.a}}{{internal.b}}"] })], {
        a: ["x"],
        b: ["y"],
        logins: ["z"],
      }),
    ).toEqual([]);
  });
});

describe("rolesAllowNode", () => {
  const prod = { env: "prod", team: "infra" };

  test('"*": "*" matches every node, even one without labels', () => {
    expect(rolesAllowNode([access], prod)).toBe(true);
    expect(rolesAllowNode([access], {})).toBe(true);
  });

  test("every selector key must match; values may be lists, globs or ^regexps$", () => {
    expect(rolesAllowNode([role({ node_labels: { env: "prod", team: "infra" } })], prod)).toBe(true);
    expect(rolesAllowNode([role({ node_labels: { env: "prod", team: "web" } })], prod)).toBe(false);
    expect(rolesAllowNode([role({ node_labels: { env: ["dev", "prod"] } })], prod)).toBe(true);
    expect(rolesAllowNode([role({ node_labels: { env: "pr*" } })], prod)).toBe(true);
    expect(rolesAllowNode([role({ node_labels: { env: "^p.o[d]$" } })], prod)).toBe(true);
    expect(rolesAllowNode([role({ node_labels: { env: "*" } })], prod)).toBe(true);
    expect(rolesAllowNode([role({ node_labels: { region: "*" } })], prod)).toBe(false);
    // A key the node does not have is not found on Object.prototype either.
    expect(rolesAllowNode([role({ node_labels: { constructor: "*" } })], prod)).toBe(false);
    expect(rolesAllowNode([role({ node_labels: { toString: "*" } })], prod)).toBe(false);
  });

  test("empty or absent selectors match nothing; any allowing role suffices", () => {
    expect(rolesAllowNode([role({ node_labels: {} })], prod)).toBe(false);
    expect(rolesAllowNode([role({ logins: ["root"] })], prod)).toBe(false);
    expect(
      rolesAllowNode([role({ node_labels: { env: "dev" } }), role({ node_labels: { team: "infra" } })], prod),
    ).toBe(true);
    expect(rolesAllowNode([], prod)).toBe(false);
  });

  test("deny wins over allow", () => {
    expect(rolesAllowNode([access, role({}, { node_labels: { env: "prod" } })], prod)).toBe(false);
    expect(rolesAllowNode([access, role({}, { node_labels: { env: "dev" } })], prod)).toBe(true);
  });

  test("v3 roles with logins and no node_labels reach every node (Teleport's v3 default)", () => {
    expect(rolesAllowNode([role({ logins: ["root"] }, {}, "v3")], prod)).toBe(true);
    expect(rolesAllowNode([role({ logins: ["root"], node_labels: {} }, {}, "v3")], prod)).toBe(false);
  });

  test("fails closed on what it cannot evaluate", () => {
    expect(rolesAllowNode([access, role({}, { node_labels_expression: 'labels.env == "prod"' })], prod)).toBe(
      false,
    );
    expect(rolesAllowNode([role({ node_labels: { env: "^(broken$" } })], prod)).toBe(false);
  });
});

describe("presetRoles", () => {
  test("access, editor and auditor, frozen", () => {
    expect(presetRoles.map((r) => r.metadata.name)).toEqual(["access", "editor", "auditor"]);
    expect(access.spec.allow.logins).toEqual(["{{internal.logins}}"]);
    expect(access.spec.allow.node_labels).toEqual({ "*": "*" });
    expect(() => access.spec.allow.logins!.push("root")).toThrow();
    for (const preset of presetRoles) validateRole(preset);
  });
});
