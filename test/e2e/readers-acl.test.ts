// Readers by POSIX ACL on the compiled tbot (reference §1.4, §8.6), run as root with users this
// file creates (and removes): a reader named in `readers` reads the output files, another user
// does not; `getfacl` shows the entries on the destination, its generation directory and files;
// a new generation (one-shot again, or a renewal) keeps them; numeric IDs and groups work;
// `acls: required` fails clearly on a filesystem without ACLs (ramfs) or without libacl; and
// libpq (psql as the reader) accepts the key the ACL lets it read.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tbotBin } from "../harness/binary.ts";
import { addBot, expectOneErrorLine, fileScope, writeText } from "../harness/extra.ts";
import { postgresAvailable, psqlPath, startPostgres, stopAllPostgres } from "../harness/postgres.ts";
import { cleanupAfterFile, type RunResult, run, startProcess } from "../harness/proc.ts";
import type { TauthHandle } from "../harness/tauth.ts";
import { canActAsOtherUser } from "../harness/unprivileged.ts";

afterAll(stopAllPostgres);
cleanupAfterFile();
const scope = fileScope();
const root = canActAsOtherUser();

const READER = "tbot-acl-reader";
const OTHER = "tbot-acl-other";
const MEMBER = "tbot-acl-member";
const GROUP = "tbot-acl-readers";

interface TestUser {
  name: string;
  uid: number;
  gid: number;
}
const made: { users: string[]; groups: string[] } = { users: [], groups: [] };
const users: Record<string, TestUser> = {};

function must(cmd: string[]): RunResult {
  const r = run(cmd);
  if (r.code !== 0) throw new Error(`${cmd.join(" ")}: exit ${r.code}: ${r.stderr}`);
  return r;
}

function makeUser(name: string, extraGroup?: string): TestUser {
  if (run(["getent", "passwd", name]).code !== 0) {
    must(["useradd", "--system", "--no-create-home", "--user-group", "--shell", "/bin/sh", name]);
    made.users.push(name);
  }
  if (extraGroup) must(["usermod", "-a", "-G", extraGroup, name]);
  const uid = Number(must(["id", "-u", name]).stdout.trim());
  const gid = Number(must(["id", "-g", name]).stdout.trim());
  return { name, uid, gid };
}

/** Run argv as `u`, with its groups from /etc/group (setpriv --init-groups). */
function as(u: TestUser, cmd: string[]): RunResult {
  return run(["setpriv", `--reuid=${u.uid}`, `--regid=${u.gid}`, "--init-groups", "--", ...cmd], {
    env: { HOME: "/", USER: u.name, LOGNAME: u.name },
  });
}

let auth: TauthHandle;
let work: string;

beforeAll(async () => {
  if (!root) return;
  if (run(["getent", "group", GROUP]).code !== 0) {
    must(["groupadd", "--system", GROUP]);
    made.groups.push(GROUP);
  }
  users.reader = makeUser(READER);
  users.other = makeUser(OTHER);
  users.member = makeUser(MEMBER, GROUP);
  auth = await scope.tauth();
  work = scope.tempDir("readers-acl-");
  chmodSync(work, 0o755); // readers must be able to reach the destinations below
});

afterAll(() => {
  for (const u of made.users) run(["userdel", u]);
  for (const g of made.groups) run(["groupdel", g]);
});

let n = 0;
/** A tbot.yaml with one identity output whose destination has `destExtra` (YAML lines). */
function config(dest: string, destExtra: string, o: { oneshot?: boolean } = {}): string {
  const i = n++;
  const token = addBot(auth, `acl${i}`);
  return writeText(
    join(work, `tbot-${i}.yaml`),
    `version: v2
auth_server: ${auth.addr}
onboarding:
  join_method: token
  token: ${token}
  ca_pins: [${auth.pin}]
storage:
  type: directory
  path: ${join(work, `data-${i}`)}
${o.oneshot === false ? "renewal_interval: 1h" : "oneshot: true"}
services:
  - type: identity
    destination:
      type: directory
      path: ${dest}
${destExtra
  .split("\n")
  .filter(Boolean)
  .map((l) => `      ${l}`)
  .join("\n")}
`,
  );
}

const start = (cfg: string, env: Record<string, string> = {}) => run([tbotBin, "start", "-c", cfg], { env });
const getfacl = (p: string, numeric = false) =>
  must(["getfacl", "-p", "-c", ...(numeric ? ["-n"] : []), p])
    .stdout.trim()
    .split("\n")
    .filter((l) => !l.startsWith("#"))
    .sort();
const canRead = (u: TestUser, path: string) => as(u, ["cat", path]);
const generation = (dest: string) => readlinkSync(join(dest, "..identity"));

describe.skipIf(!root)("readers by POSIX ACL (tbot runs as root)", () => {
  test("1. a reader user reads key, certificate and identity; another user cannot; a second run keeps it so", () => {
    const dest = join(work, "out-1");
    const cfg = config(dest, `readers:\n  - user: ${READER}\n`);
    const r = start(cfg);
    expect(r.stderr).not.toContain("WARN");
    expect(r.code).toBe(0);

    const fileAcl = [`user::rw-`, `user:${READER}:r--`, "group::---", "mask::r--", "other::---"].sort();
    const dirAcl = [`user::rwx`, `user:${READER}:r-x`, "group::---", "mask::r-x", "other::---"].sort();
    expect(getfacl(dest)).toEqual(dirAcl);
    const gen1 = generation(dest);
    expect(getfacl(join(dest, gen1))).toEqual(dirAcl);
    for (const f of ["key", "tlscert", "identity", "key-cert.pub", "teleport-user-ca.crt"])
      expect(getfacl(join(dest, gen1, f))).toEqual(fileAcl);
    // The mode's group bits show the mask: 0640 files, 0750 directories; `ls` marks the ACL.
    expect(must(["stat", "-L", "-c", "%a", join(dest, "key")]).stdout.trim()).toBe("640");
    expect(must(["ls", "-lL", join(dest, "key")]).stdout).toMatch(/^-rw-r-----\+ /);

    const key = canRead(users.reader!, join(dest, "key"));
    expect(key.code).toBe(0);
    expect(key.stdout).toContain("PRIVATE KEY");
    expect(canRead(users.reader!, join(dest, "tlscert")).stdout).toContain("BEGIN CERTIFICATE");
    expect(canRead(users.reader!, join(dest, "identity")).code).toBe(0);
    const denied = canRead(users.other!, join(dest, "key"));
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toContain("Permission denied");
    expect(as(users.other!, ["ls", dest]).code).not.toBe(0);

    // A new generation: the same ACLs, the reader still reads the new key.
    expect(start(cfg).code).toBe(0);
    const gen2 = generation(dest);
    expect(gen2).not.toBe(gen1);
    expect(getfacl(join(dest, gen2))).toEqual(dirAcl);
    expect(getfacl(join(dest, gen2, "key"))).toEqual(fileAcl);
    const key2 = canRead(users.reader!, join(dest, "key"));
    expect(key2.code).toBe(0);
    expect(key2.stdout).not.toBe(key.stdout);
    expect(canRead(users.other!, join(dest, "key")).code).not.toBe(0);
  });

  test("2. a renewal in daemon mode writes the next generation with the readers' ACL; the destination's ACL is put back", async () => {
    const dest = join(work, "out-2");
    const cfg = config(dest, `readers:\n  - user: ${READER}\n`, { oneshot: false });
    const bot = scope.proc(startProcess([tbotBin, "start", "-c", cfg]));
    try {
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline && canRead(users.reader!, join(dest, "key")).code !== 0)
        await Bun.sleep(100);
      const first = generation(dest);
      expect(canRead(users.reader!, join(dest, "key")).code).toBe(0);
      // Someone strips the destination's ACL: the next write puts it back.
      must(["setfacl", "-b", dest]);
      expect(canRead(users.reader!, join(dest, "key")).code).not.toBe(0);
      process.kill(bot.pid, "SIGHUP");
      const until = Date.now() + 15_000;
      while (Date.now() < until && generation(dest) === first) await Bun.sleep(100);
      expect(generation(dest)).not.toBe(first);
      expect(getfacl(dest)).toContain(`user:${READER}:r-x`);
      expect(getfacl(join(dest, generation(dest), "key"))).toContain(`user:${READER}:r--`);
      expect(canRead(users.reader!, join(dest, "key")).code).toBe(0);
      expect(canRead(users.other!, join(dest, "key")).code).not.toBe(0);
    } finally {
      expect(await bot.stop("SIGTERM")).toBe(0);
    }
  });

  test("3. numeric IDs (a container's users need not exist on the host) and a group reader", () => {
    const dest = join(work, "out-3");
    const cfg = config(
      dest,
      `readers:\n  - user: "${users.other!.uid}"\n  - user: 4000123\n  - group: ${GROUP}\n`,
    );
    expect(start(cfg).code).toBe(0);
    const acl = getfacl(join(dest, "key"), true);
    const gid = Number(must(["getent", "group", GROUP]).stdout.split(":")[2]);
    expect(acl).toContain(`user:${users.other!.uid}:r--`);
    expect(acl).toContain("user:4000123:r--");
    expect(acl).toContain(`group:${gid}:r--`);
    expect(canRead(users.other!, join(dest, "key")).code).toBe(0);
    expect(canRead(users.member!, join(dest, "key")).code).toBe(0);
    expect(canRead(users.reader!, join(dest, "key")).code).not.toBe(0);
  });

  test("4. an unknown reader name stops tbot with one line naming it", () => {
    const dest = join(work, "out-4");
    const r = start(config(dest, "readers:\n  - user: tbot-no-such-user\n"));
    expect(expectOneErrorLine(r)).toContain(`reader user "tbot-no-such-user" does not exist on this host`);
  });

  describe("a filesystem without ACLs (ramfs)", () => {
    let mnt: string;
    let mounted = false;
    beforeAll(() => {
      mnt = join(work, "ramfs");
      mkdirSync(mnt);
      mounted = run(["mount", "-t", "ramfs", "-o", "mode=0755", "ramfs", mnt]).code === 0;
    });
    afterAll(() => {
      if (mounted) run(["umount", mnt]);
    });

    test("5. acls: required fails with one line naming the path and the reason; nothing is published", () => {
      if (!mounted) throw new Error("cannot mount ramfs here");
      expect(run(["setfacl", "-m", "u:0:r", mnt]).stderr).toContain("Operation not supported");
      const dest = join(mnt, "req");
      const r = start(config(dest, `acls: required\nreaders:\n  - user: ${READER}\n`));
      expect(expectOneErrorLine(r)).toBe(
        `ERROR: destination ${dest}: acls: required, but the ACL of ${dest} cannot be set: the filesystem does not support POSIX ACLs (EOPNOTSUPP); mount it with ACL support or choose another path`,
      );
      expect(must(["ls", "-A", dest]).stdout.trim()).toBe("");
    });

    test("6. acls: try writes without ACLs and warns once", () => {
      if (!mounted) throw new Error("cannot mount ramfs here");
      const dest = join(mnt, "try");
      const r = start(config(dest, `readers:\n  - user: ${READER}\n`));
      expect(r.code).toBe(0);
      expect(r.stderr.match(/Could not set POSIX ACLs/g)).toHaveLength(1);
      expect(must(["stat", "-L", "-c", "%a", join(dest, "key")]).stdout.trim()).toBe("600");
      expect(canRead(users.reader!, join(dest, "key")).code).not.toBe(0);
    });
  });

  test("7. without libacl: required fails naming the library, try warns and writes", () => {
    const env = { TBOT_LIBACL_DIR: join(work, "no-libacl-here") };
    const req = join(work, "out-7r");
    const r = start(config(req, `acls: required\nreaders:\n  - user: ${READER}\n`), env);
    expect(expectOneErrorLine(r)).toContain(
      `ERROR: destination ${req}: acls: required, but the ACL of ${req} cannot be set: libacl.so.1 is not installed`,
    );
    const t = start(config(join(work, "out-7t"), `readers:\n  - user: ${READER}\n`), env);
    expect(t.code).toBe(0);
    expect(t.stderr).toContain("libacl.so.1 is not installed");
  });

  test("8. acls: off sets nothing, and says the readers are not granted access", () => {
    const dest = join(work, "out-8");
    const r = start(config(dest, `acls: off\nreaders:\n  - user: ${READER}\n`));
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("readers but acls: off");
    expect(getfacl(join(dest, "key"))).toEqual(["group::---", "other::---", "user::rw-"]);
  });

  test("9. symlinks: secure (openat2 on this kernel) writes a plain path and refuses a linked one", () => {
    const dest = join(work, "out-9");
    expect(start(config(dest, `symlinks: secure\nreaders:\n  - user: ${READER}\n`)).code).toBe(0);
    expect(canRead(users.reader!, join(dest, "key")).code).toBe(0);
    const link = join(work, "out-9-link");
    must(["ln", "-s", dest, link]);
    const r = start(config(join(link, "sub"), "symlinks: secure\n"));
    expect(expectOneErrorLine(r)).toContain(`${link} is a symbolic link`);
  });

  test.skipIf(!postgresAvailable())(
    "10. psql as the reader: libpq accepts the key (root's, 0640 with the ACL) and logs in by certificate",
    async () => {
      const dest = join(work, "out-10");
      expect(start(config(dest, `readers:\n  - user: ${READER}\n`)).code).toBe(0);
      // The key is tbot's, read by the reader through the ACL. Its certificate is one a test CA
      // issues for that key: Teleport's TLS certificates carry subject attributes of their own
      // OIDs, which PostgreSQL refuses ("could not get NID for ASN1_OBJECT object"); making
      // certificates PostgreSQL takes is the database output's business, not the ACL's.
      const tls = join(work, "pg-tls");
      mkdirSync(tls);
      chmodSync(tls, 0o755);
      const f = (name: string) => join(tls, name);
      const ssl = (args: string[]) => must(["openssl", ...args]);
      ssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", f("ca.key")]);
      ssl([
        "req",
        "-x509",
        "-new",
        "-key",
        f("ca.key"),
        "-subj",
        "/CN=acl test CA",
        "-days",
        "1",
        "-out",
        f("ca.crt"),
      ]);
      const sign = (key: string, cn: string, ext: string, out: string) => {
        writeFileSync(f(`${out}.ext`), ext);
        ssl(["req", "-new", "-key", key, "-subj", `/CN=${cn}`, "-out", f(`${out}.csr`)]);
        ssl(
          [
            "x509",
            "-req",
            "-in",
            f(`${out}.csr`),
            "-CA",
            f("ca.crt"),
            "-CAkey",
            f("ca.key"),
            "-CAcreateserial",
          ].concat(["-days", "1", "-extfile", f(`${out}.ext`), "-out", f(`${out}.crt`)]),
        );
        chmodSync(f(`${out}.crt`), 0o644);
      };
      ssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", f("server.key")]);
      sign(f("server.key"), "localhost", "subjectAltName=IP:127.0.0.1,DNS:localhost\n", "server");
      const cn = "acl_reader_role";
      sign(join(dest, "key"), cn, "extendedKeyUsage=clientAuth\n", "client");
      const pg = await startPostgres({
        serverTls: {
          certFile: f("server.crt"),
          keyFile: f("server.key"),
          caFile: f("ca.crt"),
          hba: ["hostssl all all 127.0.0.1/32 cert"],
        },
      });
      pg.psql(`CREATE ROLE ${cn} LOGIN`);
      const conn = `host=127.0.0.1 port=${pg.port} dbname=postgres user=${cn} sslmode=verify-full sslrootcert=${f("ca.crt")} sslcert=${f("client.crt")} sslkey=${join(dest, "key")}`;
      const asReader = as(users.reader!, [psqlPath(), "-X", "-At", "-d", conn, "-c", "select current_user"]);
      expect(asReader.stderr).toBe("");
      expect(asReader.stdout.trim()).toBe(cn);
      // libpq's rule, for contrast: a key the connecting user owns must be 0600 or less; this
      // one (root's, mode 0640 = the ACL mask) passes because root owns it and only reads are
      // granted. The same bits on the reader's own copy are refused.
      const own = f("own.key");
      writeFileSync(own, must(["cat", join(dest, "key")]).stdout, { mode: 0o640 });
      chmodSync(own, 0o640);
      must(["chown", `${users.reader!.uid}:${users.reader!.gid}`, own]);
      const ownConn = conn.replace(`sslkey=${join(dest, "key")}`, `sslkey=${own}`);
      const refused = as(users.reader!, [psqlPath(), "-X", "-At", "-d", ownConn, "-c", "select 1"]);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain("has group or world access");
      // The other user cannot even open the key.
      const asOther = as(users.other!, [psqlPath(), "-X", "-At", "-d", conn, "-c", "select 1"]);
      expect(asOther.code).not.toBe(0);
      expect(asOther.stderr).toMatch(/Permission denied|could not/i);
    },
    60_000,
  );
});
