// The directory store never removes or writes outside its directory, whatever links or
// permissions someone else prepared: planted and swapped links, generation directories
// replaced by links, a dangling lock link, a directory others can write or own, and a path that
// is (or passes through) a symlink under each `symlinks` mode.

import { afterAll, describe, expect, test } from "bun:test";
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DirectoryStore } from "../../../src/agent/storage/directory.ts";

const base = mkdtempSync(join(tmpdir(), "dirsafety-"));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const isRoot = process.geteuid?.() === 0;

let n = 0;
/** A fresh case directory holding `out` (the store) and `victim` (must never change). */
function arena() {
  const root = join(base, `case-${n++}`);
  const victim = join(root, "victim");
  mkdirSync(join(victim, "deep"), { recursive: true });
  writeFileSync(join(victim, "precious"), "keep me");
  writeFileSync(join(victim, "deep", "also"), "keep me too");
  return { root, out: join(root, "out"), victim };
}

/** Every name and content under `dir`, without following links. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d).sort()) {
      const p = join(d, e);
      const st = lstatSync(p);
      if (st.isDirectory()) {
        out[`${rel}${e}/`] = (st.mode & 0o7777).toString(8);
        walk(p, `${rel}${e}/`);
      } else if (st.isSymbolicLink()) out[`${rel}${e}`] = `-> ${readlinkSync(p)}`;
      else out[`${rel}${e}`] = readFileSync(p, "utf8");
    }
  };
  walk(dir, "");
  return out;
}

async function storeWithOneSet(out: string): Promise<DirectoryStore> {
  const s = new DirectoryStore(out, { label: "destination" });
  await s.init();
  await s.writeSet("identity", { key: "K0", cert: "C0" });
  return s;
}

const generations = (dir: string) => readdirSync(dir).filter((e) => e.startsWith("..identity_"));

describe("links planted in the directory", () => {
  test("a ..identity link to ..identity_x/../../victim removes nothing; the link is replaced", async () => {
    const { out, victim } = arena();
    const s = await storeWithOneSet(out);
    const before = tree(victim);
    // What the old code removed: join(out, "..identity_x/../../victim") is the victim.
    rmSync(join(out, "..identity"));
    symlinkSync("..identity_x/../../victim", join(out, "..identity"));
    await s.writeSet("identity", { key: "K1", cert: "C1" });
    expect(tree(victim)).toEqual(before);
    expect(readlinkSync(join(out, "..identity"))).toMatch(/^\.\.identity_[a-z0-9]+$/);
    expect(await s.read("key")).toBe("K1");
    expect(generations(out)).toHaveLength(1);
  });

  test("an absolute ..identity link to the victim removes nothing", async () => {
    const { out, victim } = arena();
    const s = await storeWithOneSet(out);
    const before = tree(victim);
    rmSync(join(out, "..identity"));
    symlinkSync(victim, join(out, "..identity"));
    await s.writeSet("identity", { key: "K1", cert: "C1" });
    expect(tree(victim)).toEqual(before);
  });

  test("a generation directory replaced by a link to elsewhere is unlinked, not recursed into", async () => {
    const { out, victim } = arena();
    const s = await storeWithOneSet(out);
    const before = tree(victim);
    // The current generation swapped for a link to the victim (its name is a valid one), plus
    // an orphan-looking entry that is a link too.
    const [gen] = generations(out);
    rmSync(join(out, gen!), { recursive: true });
    symlinkSync(victim, join(out, gen!));
    symlinkSync("../victim", join(out, "..identity_orphan"));
    await s.writeSet("identity", { key: "K1", cert: "C1" });
    expect(tree(victim)).toEqual(before);
    expect(existsSync(join(out, gen!))).toBe(false);
    expect(existsSync(join(out, "..identity_orphan"))).toBe(false);
    expect(generations(out)).toHaveLength(1);
  });

  test("links inside an old generation directory are removed themselves, their targets kept", async () => {
    const { out, victim } = arena();
    const s = await storeWithOneSet(out);
    const before = tree(victim);
    const [gen] = generations(out);
    symlinkSync(victim, join(out, gen!, "into-victim"));
    mkdirSync(join(out, gen!, "sub"));
    symlinkSync(join(victim, "deep"), join(out, gen!, "sub", "deeper"));
    await s.writeSet("identity", { key: "K1", cert: "C1" });
    expect(tree(victim)).toEqual(before);
    expect(existsSync(join(out, gen!))).toBe(false);
  });

  test("names that are not exactly a generation of the set are left alone", async () => {
    const { out } = arena();
    const s = await storeWithOneSet(out);
    const keep = ["..identity_x.bak", "..identity_", "..identityx_1", "..storage_1", ".identity_1"];
    for (const k of keep) mkdirSync(join(out, k));
    await s.writeSet("identity", { key: "K1", cert: "C1" });
    for (const k of keep) expect(lstatSync(join(out, k)).isDirectory()).toBe(true);
  });

  test("a generation named by an older build (digits and underscores) is still cleaned up", async () => {
    const { out } = arena();
    mkdirSync(out, { mode: 0o700 });
    const old = "..identity_1796204537458_14000_95qhxb";
    mkdirSync(join(out, old), { mode: 0o700 });
    writeFileSync(join(out, old, "key"), "old");
    symlinkSync(old, join(out, "..identity"));
    symlinkSync("..identity/key", join(out, "key"));
    const s = new DirectoryStore(out);
    await s.init();
    expect(await s.read("key")).toBe("old");
    await s.writeSet("identity", { key: "new" });
    expect(existsSync(join(out, old))).toBe(false);
    expect(await s.read("key")).toBe("new");
  });

  test("a stable name or set link tbot did not make is refused on read, not followed", async () => {
    const { out, victim } = arena();
    const s = await storeWithOneSet(out);
    rmSync(join(out, "key"));
    symlinkSync(join(victim, "precious"), join(out, "key"));
    await expect(s.read("key")).rejects.toThrow(/key is a link tbot did not make/);
    rmSync(join(out, "cert"));
    symlinkSync("..identity/cert", join(out, "cert"));
    rmSync(join(out, "..identity"));
    symlinkSync("../victim", join(out, "..identity"));
    await expect(s.read("cert")).rejects.toThrow(/cert is a link tbot did not make/);
  });

  test("a dangling lock link is refused and its target is not created", async () => {
    const { out, victim } = arena();
    const s = new DirectoryStore(out, { label: "storage" });
    await s.init();
    symlinkSync(join(victim, "created-by-tbot"), join(out, "lock"));
    await expect(s.lock()).rejects.toThrow(/lock file .* is a symbolic link/);
    expect(existsSync(join(victim, "created-by-tbot"))).toBe(false);
    // A link to an existing file is refused too (opened without following links).
    rmSync(join(out, "lock"));
    symlinkSync(join(victim, "precious"), join(out, "lock"));
    await expect(s.lock()).rejects.toThrow(/is a symbolic link/);
  });

  test("a .write-test link is replaced, not written through", async () => {
    const { out, victim } = arena();
    mkdirSync(out, { mode: 0o700 });
    symlinkSync(join(victim, "precious"), join(out, ".write-test"));
    await new DirectoryStore(out).init();
    expect(readFileSync(join(victim, "precious"), "utf8")).toBe("keep me");
    expect(existsSync(join(out, ".write-test"))).toBe(false);
  });
});

describe("who may write the directory", () => {
  const oneLine = (e: Error) => expect(e.message).not.toContain("\n");

  test("a directory writable by group or others is refused with the chmod to run", async () => {
    for (const mode of [0o777, 0o770, 0o702]) {
      const { out } = arena();
      mkdirSync(out);
      chmodSync(out, mode);
      const err = await new DirectoryStore(out, { label: "destination" }).init().catch((e) => e);
      expect(err.message).toBe(
        `destination ${out} is writable by group or others (mode 0${mode.toString(8)}); run "chmod 0700 ${out}" or choose a directory only tbot's user can write`,
      );
      oneLine(err);
      expect(readdirSync(out)).toEqual([]);
    }
  });

  test.skipIf(!isRoot)(
    "a directory owned by another user is refused; root's and tbot's own are used",
    async () => {
      const { out } = arena();
      mkdirSync(out, { mode: 0o700 });
      chownSync(out, 65534, 65534);
      const err = await new DirectoryStore(out, { label: "storage" }).init().catch((e) => e);
      expect(err.message).toStartWith(`storage ${out} is owned by `);
      expect(err.message).toContain("uid 65534");
      expect(err.message).toContain("not by tbot's user");
      oneLine(err);
      expect(readdirSync(out)).toEqual([]);
      chownSync(out, 0, 0);
      await new DirectoryStore(out).init();
    },
  );

  test("a directory tbot creates is 0700 and used", async () => {
    const { root } = arena();
    const out = join(root, "made", "by", "tbot");
    const s = new DirectoryStore(out);
    await s.init();
    expect(lstatSync(out).mode & 0o777).toBe(0o700);
    expect(lstatSync(join(root, "made")).mode & 0o777).toBe(0o700);
  });

  test("a parent writable by others is refused unless it is sticky (as /tmp is)", async () => {
    const { root } = arena();
    const open = join(root, "open");
    mkdirSync(open);
    chmodSync(open, 0o777);
    const err = await new DirectoryStore(join(open, "out")).init().catch((e) => e);
    expect(err.message).toContain(`its parent directory ${open} is writable by group or others (mode 0777)`);
    expect(err.message).toContain(`chmod go-w ${open}`);
    expect(existsSync(join(open, "out"))).toBe(false);
    chmodSync(open, 0o1777);
    await new DirectoryStore(join(open, "out")).init();
  });

  test("a directory made writable by others after start is refused at the next write", async () => {
    const { out, victim } = arena();
    const s = await storeWithOneSet(out);
    chmodSync(out, 0o777);
    rmSync(join(out, "..identity"));
    symlinkSync("..identity_x/../../victim", join(out, "..identity"));
    const before = tree(victim);
    await expect(s.writeSet("identity", { key: "K1", cert: "C1" })).rejects.toThrow(
      /writable by group or others/,
    );
    expect(tree(victim)).toEqual(before);
    expect(generations(out)).toHaveLength(1);
  });
});

describe("a path that is or passes through a symlink", () => {
  function linkedPath() {
    const a = arena();
    const real = join(a.root, "real");
    mkdirSync(real, { mode: 0o700 });
    const link = join(a.root, "link");
    symlinkSync(real, link);
    return { ...a, real, link };
  }

  for (const symlinks of ["try-secure", "secure"] as const)
    test(`symlinks: ${symlinks} (try-secure is the default) refuses a destination that is a link`, async () => {
      const { real, link } = linkedPath();
      const opts = symlinks === "try-secure" ? { label: "destination" } : { label: "destination", symlinks };
      const err = await new DirectoryStore(link, opts).init().catch((e) => e);
      expect(err.message).toBe(
        `destination ${link} is a symbolic link (to ${real}) and tbot does not follow links in this path (symlinks: ${symlinks}); use the real path, or set "symlinks: insecure" on this destination in tbot.yaml to follow it`,
      );
      expect(readdirSync(real)).toEqual([]);
      // A link further up the path is refused the same way.
      const below = join(link, "sub");
      mkdirSync(join(real, "sub"), { mode: 0o700 });
      const err2 = await new DirectoryStore(below, opts).init().catch((e) => e);
      expect(err2.message).toStartWith(`destination ${below}: ${link} is a symbolic link (to ${real})`);
      expect(readdirSync(join(real, "sub"))).toEqual([]);
    });

  test("symlinks: insecure follows the link and still checks the directory it reaches", async () => {
    const { real, link } = linkedPath();
    const s = new DirectoryStore(link, { symlinks: "insecure" });
    await s.init();
    await s.writeSet("identity", { key: "K" });
    expect(readFileSync(join(real, "key"), "utf8")).toBe("K");
    chmodSync(real, 0o777);
    await expect(s.writeSet("identity", { key: "K2" })).rejects.toThrow(
      `directory ${link} is writable by group or others (mode 0777)`,
    );
  });

  test("a directory swapped for a link after start: the next write is refused, the target untouched", async () => {
    const { root, out, victim } = arena();
    const s = await storeWithOneSet(out);
    renameSync(out, join(root, "moved"));
    symlinkSync(victim, out);
    const before = tree(victim);
    await expect(s.writeSet("identity", { key: "K1", cert: "C1" })).rejects.toThrow(/is a symbolic link/);
    await expect(s.read("key")).rejects.toThrow(/is a symbolic link/);
    await expect(s.lock()).rejects.toThrow(/is a symbolic link/);
    expect(tree(victim)).toEqual(before);
  });
});
