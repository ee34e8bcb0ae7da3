// The `storage` setting of tauth.yaml and its flags: what is accepted, the one line for each
// mistake (file:line:column in YAML), and that a conn string's password never shows.

import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeStorage } from "../../../src/auth/backend/open.ts";
import { parseConnString, redact } from "../../../src/auth/backend/postgres-conn.ts";
import { loadConfigFile } from "../../../src/cli/tauth.ts";
import { resolveStorage } from "../../../src/cli/tauth-storage.ts";

const dir = mkdtempSync(join(tmpdir(), "storage-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

function load(yaml: string) {
  const p = join(dir, `tauth-${n++}.yaml`);
  writeFileSync(p, yaml);
  return { path: p, run: () => loadConfigFile(p) };
}

function message(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("expected an error");
}

const CS = "postgresql://tauth:hunter2@db.example.com:5433/tauthdb?sslmode=verify-full";

describe("tauth.yaml storage", () => {
  test("postgresql with a conn string; sqlite; and absent (the default is decided later)", () => {
    expect(load(`storage:\n  type: postgresql\n  conn_string: "${CS}"\n`).run().storage).toEqual({
      type: "postgresql",
      connString: CS,
    });
    expect(load("storage:\n  type: sqlite\n").run().storage).toEqual({ type: "sqlite" });
    expect(load("data_dir: /x\n").run().storage).toBeUndefined();
  });

  test("mistakes are one line naming file:line:column, and never echo the conn string", () => {
    const cases: [string, string][] = [
      [
        "storage:\n  type: postgres\n",
        'storage.type must be sqlite or postgresql, got "postgres"; did you mean "postgresql"?',
      ],
      ["storage:\n  type: postgresql\n", "storage.conn_string is required for type postgresql"],
      [
        `storage:\n  type: sqlite\n  conn_string: "${CS}"\n`,
        "storage.conn_string is only for type postgresql",
      ],
      [
        "storage:\n  type: postgresql\n  conn_string: 'mysql://root:hunter2@h/x'\n",
        "storage.conn_string must start with postgresql://",
      ],
      [
        "storage:\n  type: postgresql\n  conn_string: '//tauth:hunter2@db/x'\n",
        "storage.conn_string is not a URL",
      ],
      [
        `storage:\n  type: postgresql\n  conn_string: "${CS}"\n  pool: 3\n`,
        'unknown field "pool" in storage',
      ],
      [
        `storage:\n  type: postgresql\n  conn_string: "${CS.replace("verify-full", "on")}"\n`,
        "sslmode=on is not one of",
      ],
    ];
    for (const [yaml, want] of cases) {
      const { path, run } = load(yaml);
      const m = message(run);
      expect(m).toContain(want);
      expect(m).toMatch(new RegExp(`^${path.replaceAll(".", "\\.")}:\\d+:\\d+: `));
      expect(m).not.toContain("hunter2");
      expect(m).not.toContain("\n");
    }
  });
});

describe("--storage-type and --conn-string", () => {
  const file = { type: "postgresql" as const, connString: CS };
  test("flags win over the file; --conn-string alone means postgresql; SQLite is the default", () => {
    expect(resolveStorage({}, undefined)).toEqual({ type: "sqlite" });
    expect(resolveStorage({}, file)).toEqual(file);
    expect(resolveStorage({ type: "sqlite" }, file)).toEqual({ type: "sqlite" });
    expect(resolveStorage({ connString: "postgresql://a@b/c" }, undefined)).toEqual({
      type: "postgresql",
      connString: "postgresql://a@b/c",
    });
    expect(resolveStorage({ type: "postgresql" }, file)).toEqual(file);
  });
  test("contradictions and omissions are refused in one line", () => {
    expect(message(() => resolveStorage({ type: "postgresql" }, undefined))).toBe(
      "--storage-type postgresql needs --conn-string (or storage.conn_string in the config file)",
    );
    expect(message(() => resolveStorage({ type: "sqlite", connString: CS }, undefined))).toBe(
      "--conn-string is only for --storage-type postgresql",
    );
    expect(message(() => resolveStorage({ type: "mysql" }, undefined))).toBe(
      '--storage-type must be sqlite or postgresql, got "mysql"',
    );
    const m = message(() =>
      resolveStorage({ connString: `${CS}&sslrootcert=/nonexistent/ca.pem` }, undefined),
    );
    expect(m).toBe("--conn-string: sslrootcert /nonexistent/ca.pem cannot be read (ENOENT)");
  });
});

describe("conn string description", () => {
  test("what logs show has no password, in any spelling", () => {
    const t = parseConnString("postgresql://tauth:p%40ss%2Fword@db:5432/d?sslpassword=keypass");
    expect(t.display).toBe("postgresql://tauth@db:5432/d");
    expect(t.where).toBe("db:5432");
    expect(redact("auth failed for p@ss/word, p%40ss%2Fword, keypass", t)).toBe(
      "auth failed for ***, ***, ***",
    );
    expect(describeStorage({ type: "postgresql", connString: CS }, "/d")).toBe(
      "postgresql://tauth@db.example.com:5433/tauthdb",
    );
    expect(describeStorage({ type: "sqlite" }, "/var/lib/teleport/auth")).toBe(
      "sqlite /var/lib/teleport/auth/tauth.db",
    );
  });
  test("defaults: port 5432, database = user; IPv6 hosts bracketed; pool size from max", () => {
    const t = parseConnString("postgres://app@[::1]/?max=3");
    expect(t.where).toBe("[::1]:5432");
    expect(t.database).toBe("app");
    expect(t.max).toBe(3);
  });
});
