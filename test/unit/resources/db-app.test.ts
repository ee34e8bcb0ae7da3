import { describe, expect, test } from "bun:test";
import {
  type AppResource,
  appAccessProblem,
  type DatabaseResource,
  databaseAccessProblem,
  parseResources,
  type RoleResource,
} from "../../../src/auth/resources/index.ts";

const parse = (yaml: string) => parseResources(yaml, "r.yaml");

function role(
  allow: RoleResource["spec"]["allow"],
  deny: RoleResource["spec"]["deny"] = {},
  name = "r",
): RoleResource {
  return { kind: "role", version: "v7", metadata: { name }, spec: { allow, deny, options: {} } };
}

const pg: DatabaseResource = {
  kind: "db",
  version: "v3",
  metadata: { name: "pg", labels: { env: "prod", team: "data" } },
  spec: { protocol: "postgres", uri: "127.0.0.1:5432" },
};

const grafana: AppResource = {
  kind: "app",
  version: "v3",
  metadata: { name: "grafana", labels: { env: "prod" } },
  spec: { uri: "https://127.0.0.1:3000" },
};

describe("kind app and kind db", () => {
  test("an app with labels, uri and public_addr", () => {
    const [app] = parse(`kind: app
version: v3
metadata:
  name: grafana
  labels: {env: prod}
spec:
  uri: https://127.0.0.1:3000
  public_addr: grafana.example.com
  insecure_skip_verify: false
`);
    expect(app).toEqual({
      kind: "app",
      version: "v3",
      metadata: { name: "grafana", labels: { env: "prod" } },
      spec: {
        uri: "https://127.0.0.1:3000",
        public_addr: "grafana.example.com",
        insecure_skip_verify: false,
      },
    });
  });

  test("a db with protocol and uri", () => {
    const [db] = parse(`kind: db
version: v3
metadata:
  name: pg
  labels: {env: prod}
spec:
  protocol: postgres
  uri: 127.0.0.1:5432
`);
    expect(db).toEqual({
      kind: "db",
      version: "v3",
      metadata: { name: "pg", labels: { env: "prod" } },
      spec: { protocol: "postgres", uri: "127.0.0.1:5432" },
    });
  });

  test("mistakes are named with their place", () => {
    expect(() =>
      parse("kind: db\nversion: v3\nmetadata: {name: pg}\nspec: {protocol: oracle-x, uri: h:1}\n"),
    ).toThrow('spec.protocol "oracle-x" is not one of');
    expect(() => parse("kind: db\nversion: v3\nmetadata: {name: pg}\nspec: {protocol: postgres}\n")).toThrow(
      "spec.uri is required",
    );
    expect(() =>
      parse("kind: app\nversion: v3\nmetadata: {name: Bad_Name}\nspec: {uri: http://x}\n"),
    ).toThrow('app name "Bad_Name" is invalid');
    expect(() => parse("kind: app\nversion: v3\nmetadata: {name: a}\nspec: {url: http://x}\n")).toThrow(
      'unknown field "url"',
    );
    expect(() => parse("kind: app\nversion: v2\nmetadata: {name: a}\nspec: {uri: http://x}\n")).toThrow(
      'unsupported version "v2" for kind app',
    );
  });

  test("roles read db_users, db_names, db_labels, app_labels", () => {
    const [r] = parse(`kind: role
version: v7
metadata: {name: db-ro}
spec:
  allow:
    db_labels: {env: [prod, stage]}
    db_users: [app_ro, "{{internal.db_users}}"]
    db_names: [app]
    app_labels: {"*": "*"}
  deny:
    db_users: [postgres]
`) as RoleResource[];
    expect(r!.spec.allow).toEqual({
      db_labels: { env: ["prod", "stage"] },
      db_users: ["app_ro", "{{internal.db_users}}"],
      db_names: ["app"],
      app_labels: { "*": "*" },
    });
    expect(r!.spec.deny).toEqual({ db_users: ["postgres"] });
    expect(() =>
      parse("kind: role\nversion: v7\nmetadata: {name: x}\nspec: {allow: {db_users: app_ro}}\n"),
    ).toThrow();
  });
});

describe("databaseAccessProblem", () => {
  const ro = role({ db_labels: { env: "prod" }, db_users: ["app_ro"], db_names: ["app"] }, {}, "db-ro");

  test("a user and database the role names", () => {
    expect(databaseAccessProblem([ro], {}, pg, { username: "app_ro", database: "app" })).toBeNull();
    expect(databaseAccessProblem([ro], {}, pg, { username: "app_ro" })).toBeNull();
  });

  test("another user is refused with what is allowed", () => {
    expect(databaseAccessProblem([ro], {}, pg, { username: "admin" })).toBe(
      'role does not allow database user "admin" on db "pg"; allowed: app_ro',
    );
  });

  test("another database name is refused", () => {
    expect(databaseAccessProblem([ro], {}, pg, { username: "app_ro", database: "postgres" })).toBe(
      'role does not allow database name "postgres" for user "app_ro" on db "pg"; allowed: app',
    );
  });

  test("labels that do not match, and no db_labels at all", () => {
    const staging = role({ db_labels: { env: "stage" }, db_users: ["*"], db_names: ["*"] });
    expect(databaseAccessProblem([staging], {}, pg, { username: "app_ro" })).toContain(
      'no role allows db "pg"',
    );
    expect(databaseAccessProblem([role({ db_users: ["*"] })], {}, pg, { username: "x" })).toContain(
      "no role allows",
    );
  });

  test("wildcards, globs and trait templates", () => {
    const any = role({
      db_labels: { "*": "*" },
      db_users: ["ro_*", "{{internal.db_users}}"],
      db_names: ["*"],
    });
    expect(
      databaseAccessProblem([any], { db_users: ["alice"] }, pg, { username: "ro_x", database: "z" }),
    ).toBeNull();
    expect(databaseAccessProblem([any], { db_users: ["alice"] }, pg, { username: "alice" })).toBeNull();
    expect(databaseAccessProblem([any], {}, pg, { username: "alice" })).toContain("allowed: ro_*");
  });

  test("roles do not combine: users of one with names of another is no grant", () => {
    const users = role({ db_labels: { env: "prod" }, db_users: ["app_ro"], db_names: [] });
    const names = role({ db_labels: { env: "prod" }, db_users: [], db_names: ["app"] });
    expect(databaseAccessProblem([users, names], {}, pg, { username: "app_ro", database: "app" })).toContain(
      'does not allow database name "app"',
    );
  });

  test("deny wins: users, names, labels", () => {
    const all = role({ db_labels: { "*": "*" }, db_users: ["*"], db_names: ["*"] });
    const noPostgres = role({}, { db_users: ["postgres"] }, "no-su");
    expect(databaseAccessProblem([all, noPostgres], {}, pg, { username: "postgres" })).toBe(
      'role "no-su" denies database user "postgres" on db "pg"',
    );
    expect(databaseAccessProblem([all, noPostgres], {}, pg, { username: "app_ro" })).toBeNull();
    const noProd = role({}, { db_labels: { env: "prod" } }, "no-prod");
    expect(databaseAccessProblem([all, noProd], {}, pg, { username: "app_ro" })).toBe(
      'role "no-prod" denies db "pg"',
    );
    const noTemplate = role({}, { db_names: ["secret*"] }, "no-secret");
    expect(
      databaseAccessProblem([all, noTemplate], {}, pg, { username: "a", database: "secrets" }),
    ).toContain("denies database name");
  });
});

test("an unevaluated deny expression denies", () => {
  const all = role({ db_labels: { "*": "*" }, db_users: ["*"], app_labels: { "*": "*" } });
  const expr = role(
    {},
    { db_labels_expression: 'labels["env"] == "prod"', app_labels_expression: "true" },
    "x",
  );
  expect(databaseAccessProblem([all, expr], {}, pg, { username: "a" })).toContain("db_labels_expression");
  expect(appAccessProblem([all, expr], grafana)).toContain("app_labels_expression");
  expect(databaseAccessProblem([all], {}, pg, { username: "a" })).toBeNull();
});

describe("appAccessProblem", () => {
  test("app_labels must match; deny wins", () => {
    expect(appAccessProblem([role({ app_labels: { env: "prod" } })], grafana)).toBeNull();
    expect(appAccessProblem([role({ app_labels: { "*": "*" } })], grafana)).toBeNull();
    expect(appAccessProblem([role({ app_labels: { env: "dev" } })], grafana)).toBe(
      'no role allows app "grafana" (labels {env: prod}): add app_labels that match it to one of the bot\'s roles',
    );
    expect(appAccessProblem([role({ node_labels: { "*": "*" } })], grafana)).toContain("no role allows");
    expect(
      appAccessProblem(
        [role({ app_labels: { "*": "*" } }), role({}, { app_labels: { env: "prod" } }, "d")],
        grafana,
      ),
    ).toBe('role "d" denies app "grafana"');
  });
});
