// Secrets and admin access on the compiled binary: secret join token names never reach the
// database files; tctl output through a slow pipe is complete; admin identities have IDs, are
// kept across restarts, more are issued with `tauth admin-identity`, and `tctl lock --admin`
// revokes one; --packages-dir inside (or around) the data directory is refused.

import { Database } from "bun:sqlite";
import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { tauthBin, tctlBin } from "../harness/binary.ts";
import {
  addBot,
  expectOneErrorLine,
  fileScope,
  maskedToken,
  oneShot,
  runWithTimeout,
  writeText,
} from "../harness/extra.ts";
import { cleanupAfterFile, freePort, run } from "../harness/proc.ts";
import type { TauthHandle } from "../harness/tauth.ts";

cleanupAfterFile();

const scope = fileScope();
let auth: TauthHandle;
let work: string;

beforeAll(async () => {
  auth = await scope.tauth({ clusterName: "secrets.test" });
  work = scope.tempDir("admin-secrets-");
});

/** Every file of the SQLite database (main file, -wal, -shm) as one buffer. */
function databaseBytes(dataDir: string): Buffer {
  const files = readdirSync(dataDir).filter((f) => f.startsWith("tauth.db"));
  expect(files).toContain("tauth.db");
  return Buffer.concat(files.map((f) => readFileSync(join(dataDir, f))));
}

const tctlArgs = (identity = auth.identity) => [tctlBin, "--auth-server", auth.addr, "--identity", identity];
const sh = (script: string) => run(["bash", "-o", "pipefail", "-c", script]);
const q = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;

describe("join tokens are stored only as hashes", () => {
  test("S1. a secret token name is nowhere in the database files (unused, then used); tokens ls shows the prefix; the join works", () => {
    const token = addBot(auth, "hashed", "access", "root");
    // A token-method token whose name an admin chose, created from YAML.
    const chosen = "my-chosen-secret-0123456789abcdef";
    const file = writeText(
      join(work, "token.yaml"),
      `kind: token\nversion: v2\nmetadata:\n  name: ${chosen}\nspec:\n  roles: [Bot]\n  join_method: token\n  bot_name: hashed\n`,
    );
    expect(auth.tctl(["create", file]).code).toBe(0);

    for (const secret of [token, chosen]) {
      expect(databaseBytes(auth.dataDir).includes(secret)).toBe(false);
      expect(databaseBytes(auth.dataDir).includes(Buffer.from(secret).toString("base64"))).toBe(false);
    }
    const ls = auth.tctl(["tokens", "ls"]);
    expect(ls.code).toBe(0);
    expect(ls.stdout).toContain(maskedToken(token));
    expect(ls.stdout).toContain(maskedToken(chosen));
    expect(ls.stdout).not.toContain(token);
    expect(ls.stdout).not.toContain(chosen);
    // Asked by its real name, a token is shown with it (the caller knows it already).
    const one = auth.tctl(["get", `token/${chosen}`, "--format=json"]);
    expect(JSON.parse(one.stdout)[0].metadata.name).toBe(chosen);
    // The stored value holds the mask where the name was.
    const db = new Database(join(auth.dataDir, "tauth.db"), { readonly: true });
    const rows = db
      .query<{ key: string; value: string }, []>("SELECT key, value FROM kv WHERE key LIKE '/tokens/%'")
      .all();
    db.close();
    const names = rows.map((r) => JSON.parse(r.value).token.metadata.name as string);
    expect(names).toContain(maskedToken(token));
    expect(names).toContain(maskedToken(chosen));

    // The join still works with the real name, and the used token (tombstone) keeps no name either.
    const r = oneShot(auth, { data: join(work, "hashed-data"), dest: join(work, "hashed-out"), token });
    expect(r.stderr).not.toContain("ERROR");
    expect(r.code).toBe(0);
    const again = oneShot(auth, { data: join(work, "hashed-data2"), dest: join(work, "hashed-out2"), token });
    expect(again.code).toBe(1);
    expect(databaseBytes(auth.dataDir).includes(token)).toBe(false);
    // The admin-chosen one joins too.
    const r2 = oneShot(auth, {
      data: join(work, "chosen-data"),
      dest: join(work, "chosen-out"),
      token: chosen,
    });
    expect(r2.code).toBe(0);
    expect(databaseBytes(auth.dataDir).includes(chosen)).toBe(false);
    // Nor does the audit log name them.
    const audit = readFileSync(join(auth.dataDir, "audit.log"), "utf8");
    expect(audit).not.toContain(token);
    expect(audit).not.toContain(chosen);
  });
});

describe("tctl output through pipes is complete", () => {
  let expectedJson = "";
  beforeAll(() => {
    const roles = Array.from(
      { length: 300 },
      (_, i) =>
        `kind: role\nversion: v7\nmetadata:\n  name: piped-${String(i).padStart(4, "0")}\n  description: ${"d".repeat(600)}\nspec:\n  allow:\n    logins: [root, ubuntu, user-${i}]\n`,
    ).join("---\n");
    const created = auth.tctl(["create", writeText(join(work, "roles.yaml"), roles)]);
    expect(created.code).toBe(0);
    const file = join(work, "roles.json");
    // To a file (no pipe): the reference length.
    expect(sh(`${tctlArgs().map(q).join(" ")} get roles --format=json > ${q(file)}`).code).toBe(0);
    expectedJson = readFileSync(file, "utf8");
    expect(expectedJson.length).toBeGreaterThan(200 * 1024);
  });

  test("S2. tctl get roles --format=json | (sleep 1; cat) gets every byte; jq parses it", () => {
    const t = tctlArgs().map(q).join(" ");
    const slow = sh(`${t} get roles --format=json | (sleep 1; cat) | wc -c`);
    expect(slow.code).toBe(0);
    expect(Number(slow.stdout.trim())).toBe(Buffer.byteLength(expectedJson));
    const jq = sh(`${t} get roles --format=json | (sleep 1; jq -r 'length')`);
    expect(jq.stderr).toBe("");
    expect(jq.code).toBe(0);
    expect(Number(jq.stdout.trim())).toBe(JSON.parse(expectedJson).length);
    expect(Number(jq.stdout.trim())).toBeGreaterThanOrEqual(300);
  });

  test("S3. yaml and text output through a slow pipe are complete too", () => {
    const t = tctlArgs().map(q).join(" ");
    for (const format of ["yaml", "text"]) {
      const file = join(work, `roles.${format}`);
      expect(sh(`${t} get roles --format=${format} > ${q(file)}`).code).toBe(0);
      const size = statSync(file).size;
      expect(size).toBeGreaterThan(format === "yaml" ? 200 * 1024 : 5 * 1024);
      const slow = sh(`${t} get roles --format=${format} | (sleep 1; cat) | wc -c`);
      expect(Number(slow.stdout.trim())).toBe(size);
    }
    // Reading only the start and closing the pipe is no error.
    const head = sh(`${t} get roles --format=json | head -c 10`);
    expect(head.stdout).toBe("[\n    {\n  ");
  });
});

describe("admin identities", () => {
  const ids = () =>
    (
      JSON.parse(auth.tctl(["get", "admin_identities", "--format=json"]).stdout) as {
        metadata: { name: string };
        spec: { created_by: string };
        status?: { locked_by?: string };
      }[]
    ).map((a) => ({ id: a.metadata.name, by: a.spec.created_by, locked: a.status?.locked_by }));

  test("S4. the first start writes one with an ID; a restart keeps it and mints none", async () => {
    const before = readFileSync(auth.identity, "utf8");
    const listed = ids();
    expect(listed).toHaveLength(1);
    expect(listed[0]!.by).toBe("tauth start");
    expect(listed[0]!.id).toMatch(/^[0-9a-f-]{36}$/);
    await auth.restart();
    expect(auth.proc.output()).not.toContain("Wrote a new admin identity");
    expect(auth.proc.output()).toContain(`admin_identity_id:${listed[0]!.id}`);
    expect(readFileSync(auth.identity, "utf8")).toBe(before);
    expect(ids()).toEqual(listed);
    expect(auth.tctl(["status"]).code).toBe(0);
  });

  test("S5. tauth admin-identity issues another (0600, listed); tctl lock --admin revokes it; the first still works", () => {
    const second = join(work, "second-identity");
    const issued = run([
      tauthBin,
      "admin-identity",
      "--data-dir",
      auth.dataDir,
      "--ttl",
      "2h",
      "--out",
      second,
    ]);
    expect(issued.stderr).toBe("");
    expect(issued.code).toBe(0);
    const id = /^Admin identity ([0-9a-f-]{36}) written to /m.exec(issued.stdout)?.[1];
    expect(id).toBeDefined();
    expect(statSync(second).mode & 0o777).toBe(0o600);
    const secondStatus = run([...tctlArgs(second), "status"]);
    expect(secondStatus.code).toBe(0);
    expect(ids().find((a) => a.id === id)).toEqual({
      id: id!,
      by: "tauth admin-identity",
      locked: undefined,
    });
    const text = auth.tctl(["get", "admin_identities", "--format=text"]).stdout;
    expect(text).toMatch(new RegExp(`^${id}\\s+tauth admin-identity\\s.*\\sno$`, "m"));

    // Never over an existing file.
    expect(
      expectOneErrorLine(run([tauthBin, "admin-identity", "--data-dir", auth.dataDir, "--out", second])),
    ).toContain("already exists");

    // An identity cannot lock itself out.
    const self = run([...tctlArgs(second), "lock", "--admin", id!]);
    expect(expectOneErrorLine(self)).toContain("is the one this tctl uses");
    expect(expectOneErrorLine(auth.tctl(["lock", "--admin", "no-such-id"]))).toContain("not found");

    const lock = auth.tctl(["lock", "--admin", id!, "--message", "laptop lost"]);
    expect(lock.code).toBe(0);
    const lockName = /Created a lock with name "([^"]+)"/.exec(lock.stdout)?.[1];
    const refused = run([...tctlArgs(second), "status"]);
    const line = expectOneErrorLine(refused);
    expect(line).toContain(`admin identity ${id} is locked: laptop lost`);
    expect(line).toContain("tauth admin-identity");
    expect(run([...tctlArgs(second), "get", "bots"]).code).toBe(1);
    // The first one still works, and shows the lock.
    expect(auth.tctl(["status"]).code).toBe(0);
    expect(ids().find((a) => a.id === id)?.locked).toBe(lockName);
    expect(auth.auditLog().some((e) => e.event === "admin_identity.create" && e.id === id)).toBe(true);
    // The audit log says which admin identity locked it.
    const first = ids().find((a) => a.by === "tauth start")!.id;
    const created = auth.auditLog().find((e) => e.event === "lock.create" && e.lock === lockName);
    expect(created?.created_by).toBe(`admin:${first}`);
    // Removing the lock gives it back.
    expect(auth.tctl(["rm", `lock/${lockName}`]).code).toBe(0);
    expect(run([...tctlArgs(second), "status"]).code).toBe(0);
  });

  test("S6. tauth admin-identity: clear errors for a missing --out, a bad --ttl, a directory without a cluster", () => {
    const out = join(work, "never");
    // A missing required flag is a usage error (exit 2), as in tbot and tctl.
    const noOut = run([tauthBin, "admin-identity", "--data-dir", auth.dataDir]);
    expect(noOut.code).toBe(2);
    expect(noOut.stderr).toBe('ERROR: --out FILE is required; see "tauth admin-identity --help"\n');
    expect(
      expectOneErrorLine(
        run([tauthBin, "admin-identity", "--data-dir", auth.dataDir, "--ttl", "1d", "--out", out]),
      ),
    ).toContain("--ttl: invalid duration");
    const empty = join(work, "no-cluster");
    expect(
      expectOneErrorLine(run([tauthBin, "admin-identity", "--data-dir", empty, "--out", out])),
    ).toContain("holds no cluster");
    expect(existsSync(empty)).toBe(false);
    expect(existsSync(out)).toBe(false);
  });

  test("S7. a deleted data-dir admin-identity is written again at the next start, with a new ID", async () => {
    const old = ids().filter((a) => a.by === "tauth start");
    rmSync(auth.identity);
    await auth.restart();
    expect(auth.proc.output()).toContain("Wrote a new admin identity");
    expect(statSync(auth.identity).mode & 0o777).toBe(0o600);
    expect(auth.tctl(["status"]).code).toBe(0);
    const now = ids().filter((a) => a.by === "tauth start");
    expect(now).toHaveLength(old.length + 1);
  });
});

describe("--packages-dir is never the data directory", () => {
  async function refused(packagesDir: string, dataDir: string): Promise<string> {
    const port = await freePort();
    const r = runWithTimeout([
      ...[tauthBin, "start", "--data-dir", dataDir, "--listen", `127.0.0.1:${port}`],
      ...["--cluster-name", "pkg.test", "--packages-dir", packagesDir],
    ]);
    const line = expectOneErrorLine(r);
    expect(existsSync(join(dataDir, "admin-identity"))).toBe(false);
    return line;
  }

  test("S8. inside the data directory, the data directory itself, through a symlink, or containing it: one line, exit 1", async () => {
    const base = scope.tempDir("pkgdir-");
    const data = join(base, "data");
    mkdirSync(join(data, "pkgs"), { recursive: true });
    expect(await refused(join(data, "pkgs"), data)).toContain("is inside the data directory");
    expect(await refused(data, data)).toContain("is inside the data directory");
    symlinkSync(data, join(base, "link-to-data"));
    expect(await refused(join(base, "link-to-data"), data)).toContain("is inside the data directory");
    expect(await refused(join(base, "link-to-data", "pkgs"), data)).toContain("(real paths");
    // The data directory does not exist yet (first start) and lies under the packages directory.
    expect(await refused(base, join(base, "new", "data"))).toContain("contains the data directory");
    expect(existsSync(join(base, "new"))).toBe(false);
    // Through a symlinked data directory path.
    expect(await refused(join(data, "pkgs"), join(base, "link-to-data"))).toContain("is inside");
  });
});
