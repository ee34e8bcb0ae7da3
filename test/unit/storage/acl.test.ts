// Readers by POSIX ACL (reference §1.4, §8.6): the ACL text, reader resolution, the three `acls`
// modes, and the real thing through libacl on this machine's filesystem (and on ramfs, which
// has no ACLs at all), plus the reference's golden `readers` configuration.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AclCallError } from "../../../ffi/libacl.ts";
import { LibraryNotFound } from "../../../ffi/locate.ts";
import { decodeConfig, validateConfig } from "../../../src/agent/config/index.ts";
import {
  AclPolicy,
  aclFailureReason,
  desiredAcl,
  type IdLookup,
  resolveReaders,
  sameAcl,
} from "../../../src/agent/storage/acl.ts";
import { DirectoryStore } from "../../../src/agent/storage/directory.ts";
import { UserError } from "../../../src/util/errors.ts";
import { run } from "../../harness/proc.ts";

const lookup: IdLookup = {
  uid: (n) => ({ jenkins: 1001, reader1: 1500 })[n] ?? null,
  gid: (n) => ({ ci: 2001 })[n] ?? null,
};

describe("ACL text", () => {
  const readers = resolveReaders([{ user: "jenkins" }, { group: "ci" }, { user: "77" }], "d", lookup);
  test("files r--, directories r-x, mask likewise, group and others nothing", () => {
    expect(desiredAcl(readers, false)).toBe(
      "user::rw-,user:1001:r--,group:2001:r--,user:77:r--,group::---,mask::r--,other::---",
    );
    expect(desiredAcl(readers, true)).toBe(
      "user::rwx,user:1001:r-x,group:2001:r-x,user:77:r-x,group::---,mask::r-x,other::---",
    );
  });
  test("a reader named twice (by name and by number) is one entry", () => {
    const twice = resolveReaders([{ user: "jenkins" }, { user: "1001" }], "d", lookup);
    expect(desiredAcl(twice, false)).toBe("user::rw-,user:1001:r--,group::---,mask::r--,other::---");
  });
  test("sameAcl ignores order, separators and comments", () => {
    expect(sameAcl("user::rw-,group::---,other::---", "other::---\ngroup::---\nuser::rw- # x\n")).toBe(true);
    expect(sameAcl("user::rw-,group::---,other::---", "user::rw-,group::r--,other::---")).toBe(false);
  });
});

describe("reader resolution", () => {
  test("names are looked up, numbers taken as they are (container users)", () => {
    expect(resolveReaders([{ user: "reader1" }, { group: "4242" }], "d", lookup)).toEqual([
      { kind: "user", id: 1500, name: "reader1" },
      { kind: "group", id: 4242, name: "4242" },
    ]);
  });
  test("an unknown name or an ID out of range is one line naming it", () => {
    expect(() => resolveReaders([{ user: "ghost" }], "destination /o", lookup)).toThrow(
      'destination /o: reader user "ghost" does not exist on this host',
    );
    expect(() => resolveReaders([{ group: "ghosts" }], "destination /o", lookup)).toThrow(
      /reader group "ghosts"/,
    );
    expect(() => resolveReaders([{ user: "4294967295" }], "destination /o", lookup)).toThrow(/out of range/);
  });
  test("the system lookup finds root and nobody", () => {
    const r = resolveReaders([{ user: "root" }, { group: "root" }], "d");
    expect(r.map((x) => x.id)).toEqual([0, 0]);
  });
});

describe("modes", () => {
  const readers = resolveReaders([{ user: "jenkins" }], "d", lookup);
  const notSupported = () => {
    throw Object.assign(new AclCallError("acl_set_fd", 95), {});
  };
  test("try: a failure warns (once) and the write goes on", () => {
    const calls: string[] = [];
    const p = new AclPolicy("try", readers, "destination /o", (_fd, t) => {
      calls.push(t);
      notSupported();
    });
    expect(() => p.apply({ fd: 3, isDir: true, shown: "/o" })).not.toThrow();
    expect(() => p.apply({ fd: 4, isDir: false, shown: "/o/key" })).not.toThrow();
    expect(calls).toHaveLength(2);
  });
  test("required: a failure is one line naming the path and the reason", () => {
    const p = new AclPolicy("required", readers, "destination /o", notSupported);
    let e: unknown;
    try {
      p.apply({ fd: 3, isDir: true, shown: "/o/..identity_x" });
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(UserError);
    expect((e as Error).message).toBe(
      "destination /o: acls: required, but the ACL of /o/..identity_x cannot be set: the filesystem does not support POSIX ACLs (EOPNOTSUPP); mount it with ACL support or choose another path",
    );
  });
  test("required: what was set is read back", () => {
    const p = new AclPolicy(
      "required",
      readers,
      "destination /o",
      () => {},
      () => "user::rw-,group::---,other::---",
    );
    expect(() => p.apply({ fd: 3, isDir: false, shown: "/o/key" })).toThrow(/the ACL read back is/);
  });
  test("off, or no readers: ACLs are never touched", () => {
    const touch = () => {
      throw new Error("touched");
    };
    expect(new AclPolicy("off", readers, "d", touch, touch).active).toBe(false);
    new AclPolicy("off", readers, "d", touch, touch).apply({ fd: 3, isDir: true, shown: "/o" }, true);
    new AclPolicy("try", [], "d", touch, touch).apply({ fd: 3, isDir: true, shown: "/o" }, true);
  });
  test("verify sets only when the ACL differs", () => {
    let current = "user::rwx,group::---,other::---";
    let sets = 0;
    const p = new AclPolicy(
      "try",
      readers,
      "d",
      (_fd, t) => {
        sets++;
        current = t;
      },
      () => current,
    );
    p.apply({ fd: 3, isDir: true, shown: "/o" }, true);
    p.apply({ fd: 3, isDir: true, shown: "/o" }, true);
    expect(sets).toBe(1);
  });
  test("reasons an operator can act on", () => {
    expect(aclFailureReason(new LibraryNotFound("libacl.so.1", ["/nowhere"]))).toContain(
      "libacl.so.1 is not installed (looked in /nowhere)",
    );
    expect(aclFailureReason(new AclCallError("acl_set_fd", 1))).toContain("EPERM");
  });
});

const root = process.geteuid?.() === 0;
const getfacl = (p: string) => run(["getfacl", "-n", "-p", "-c", p]).stdout.trim().split("\n").sort();

describe("on the filesystem", () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "acl-unit-"));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  test("generation directory, files and the destination directory carry the readers' ACL", async () => {
    const dir = join(work, "out");
    const readers = resolveReaders([{ user: "4242" }, { group: "4343" }], "d");
    const store = new DirectoryStore(dir, {
      label: "destination",
      acl: new AclPolicy("required", readers, "d"),
    });
    await store.init();
    await store.writeSet("identity", { key: "K", tlscert: "C" });
    expect(getfacl(dir)).toEqual(
      ["user::rwx", "user:4242:r-x", "group::---", "group:4343:r-x", "mask::r-x", "other::---"].sort(),
    );
    expect(getfacl(join(dir, "..identity"))).toContain("user:4242:r-x");
    for (const f of ["key", "tlscert"])
      expect(getfacl(join(dir, f))).toEqual(
        ["user::rw-", "user:4242:r--", "group::---", "group:4343:r--", "mask::r--", "other::---"].sort(),
      );
    // The group bits of the mode show the mask: 0640 files, 0750 directories.
    expect(statSync(join(dir, "key")).mode & 0o777).toBe(0o640);
    expect(statSync(dir).mode & 0o777).toBe(0o750);
    // Re-checked on every write: a reader entry removed from the directory comes back.
    run(["setfacl", "-b", dir]);
    await store.writeSet("identity", { key: "K2", tlscert: "C2" });
    expect(getfacl(dir)).toContain("user:4242:r-x");
    expect(readFileSync(join(dir, "key"), "utf8")).toBe("K2");
  });

  test("no readers: files stay 0600 without an ACL", async () => {
    const dir = join(work, "plain");
    const store = new DirectoryStore(dir, { label: "destination", acl: new AclPolicy("try", [], "d") });
    await store.writeSet("identity", { key: "K" });
    expect(statSync(join(dir, "key")).mode & 0o777).toBe(0o600);
    expect(getfacl(join(dir, "key"))).toEqual(["group::---", "other::---", "user::rw-"]);
  });

  describe.if(root)("on ramfs (no ACL support)", () => {
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

    test("acls: required fails the write clearly and keeps the previous set", async () => {
      if (!mounted) return;
      const dir = join(mnt, "req");
      const readers = resolveReaders([{ user: "4242" }], "d");
      await new DirectoryStore(dir).writeSet("identity", { key: "old" });
      const store = new DirectoryStore(dir, {
        label: "destination",
        acl: new AclPolicy("required", readers, `destination ${dir}`),
      });
      await expect(store.init()).rejects.toThrow(
        `destination ${dir}: acls: required, but the ACL of ${dir} cannot be set: the filesystem does not support POSIX ACLs (EOPNOTSUPP)`,
      );
      await expect(store.writeSet("identity", { key: "new" })).rejects.toThrow(/does not support POSIX ACLs/);
      expect(readFileSync(join(dir, "key"), "utf8")).toBe("old");
      // No generation directory of the failed write is left behind.
      expect(run(["ls", "-a", dir]).stdout.match(/\.\.identity_/g)).toHaveLength(1);
    });

    test("acls: try writes without them", async () => {
      if (!mounted) return;
      const dir = join(mnt, "try");
      const readers = resolveReaders([{ user: "4242" }], "d");
      const store = new DirectoryStore(dir, {
        label: "destination",
        acl: new AclPolicy("try", readers, "d"),
      });
      await store.init();
      await store.writeSet("identity", { key: "K" });
      expect(readFileSync(join(dir, "key"), "utf8")).toBe("K");
      expect(statSync(join(dir, "key")).mode & 0o777).toBe(0o600);
    });
  });
});

describe("configuration", () => {
  const H = "version: v2\nproxy_server: example.com:443\nonboarding: {join_method: token, token: abc}\n";
  // The golden `readers` destination of Teleport's tbot config tests, as it is there:
  // gravitational/teleport lib/tbot/config/testdata/TestDestinationDirectory_YAML/acl_readers.golden
  // (commit 1e4e6461224375c74153bf651ff6fa44e4465283; Teleport is AGPL-3.0, this is 82 bytes of
  // test data quoted for interoperability). Indented here under a service's destination.
  const golden = 'type: directory\npath: /my/path\nacls: required\nreaders:\n- user: foo\n- group: "123"\n';
  const asService = (dest: string) =>
    `${H}services:\n  - type: identity\n    destination:\n${dest
      .split("\n")
      .filter(Boolean)
      .map((l) => `      ${l}`)
      .join("\n")}\n`;

  test("the reference's golden readers config is accepted", () => {
    const { config, places } = decodeConfig(asService(golden), "t.yaml");
    expect(() => validateConfig(config, places)).not.toThrow();
    const d = (config.services[0] as { destination: unknown }).destination;
    expect(d).toEqual({
      type: "directory",
      path: "/my/path",
      symlinks: "try-secure",
      acls: "required",
      readers: [{ user: "foo" }, { group: "123" }],
    });
  });

  test("the §1.4 example's reader entries and every symlinks/acls value are accepted on an output", () => {
    for (const symlinks of ["secure", "try-secure", "insecure"])
      for (const acls of ["try", "required", "off"]) {
        const { config, places } = decodeConfig(
          asService(
            `type: directory\npath: /opt/machine-id\nsymlinks: ${symlinks}\nacls: ${acls}\nreaders:\n  - user: jenkins\n  - group: ci\n  - user: 1001\n`,
          ),
          "t.yaml",
        );
        expect(() => validateConfig(config, places)).not.toThrow();
      }
  });

  test("readers on storage, or a malformed reader, are refused", () => {
    expect(() =>
      decodeConfig(`${H}storage: {type: directory, path: /b, readers: [{user: ci}]}\n`, "t.yaml"),
    ).toThrow(/readers apply to service destinations/);
    expect(() =>
      decodeConfig(asService("type: directory\npath: /o\nreaders: [{user: a, group: b}]\n"), "t.yaml"),
    ).toThrow(/exactly one of user or group/);
    const { config, places } = decodeConfig(
      asService('type: directory\npath: /o\nreaders: [{user: "a:b"}]\n'),
      "t.yaml",
    );
    expect(() => validateConfig(config, places)).toThrow(/is not a user name or a numeric uid/);
    const big = decodeConfig(
      asService("type: directory\npath: /o\nreaders: [{group: 99999999999}]\n"),
      "t.yaml",
    );
    expect(() => validateConfig(big.config, big.places)).toThrow(/out of range/);
  });
});
