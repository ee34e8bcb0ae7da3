// The directory store's promises: private modes, an atomic switch between complete sets,
// no leftovers, and an exclusive lock that a second process cannot take.

import { afterAll, expect, test } from "bun:test";
import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "bun";
import { DirectoryStore } from "../../../src/agent/storage/directory.ts";

const base = mkdtempSync(join(tmpdir(), "dirstore-"));
afterAll(() => rmSync(base, { recursive: true, force: true }));

test("creates the directory 0700 and files 0600, readable by their plain names", async () => {
  const dir = join(base, "modes", "nested");
  const s = new DirectoryStore(dir);
  await s.init();
  await s.writeSet("identity", { key: "K1", "key-cert.pub": "C1" });
  expect(statSync(dir).mode & 0o777).toBe(0o700);
  for (const f of ["key", "key-cert.pub"]) {
    expect(lstatSync(join(dir, f)).isSymbolicLink()).toBe(true);
    expect(statSync(join(dir, f)).mode & 0o777).toBe(0o600);
  }
  expect(await s.read("key")).toBe("K1");
  expect(await s.read("missing")).toBeNull();
  expect(readdirSync(dir).some((e) => e === ".write-test")).toBe(false);
});

test("a new set replaces the old one whole; only one generation directory remains", async () => {
  const dir = join(base, "switch");
  const s = new DirectoryStore(dir);
  await s.init();
  for (let i = 0; i < 5; i++) await s.writeSet("identity", { key: `K${i}`, cert: `C${i}` });
  expect(readFileSync(join(dir, "key"), "utf8")).toBe("K4");
  expect(readFileSync(join(dir, "cert"), "utf8")).toBe("C4");
  expect(readdirSync(dir).filter((e) => e.startsWith("..identity_")).length).toBe(1);
});

test("sets with different names live side by side in one directory", async () => {
  const dir = join(base, "two-sets");
  const s = new DirectoryStore(dir);
  await s.init();
  await s.writeSet("identity", { key: "identity-key" });
  await s.writeSet("sshhost", { ssh_host: "host-key" });
  await s.writeSet("identity", { key: "identity-key-2" });
  expect(await s.read("ssh_host")).toBe("host-key");
  expect(await s.read("key")).toBe("identity-key-2");
});

test("a plain file left by an older writer is replaced, not written through", async () => {
  const dir = join(base, "legacy");
  const s = new DirectoryStore(dir);
  await s.init();
  writeFileSync(join(dir, "key"), "old plain file");
  await s.writeSet("identity", { key: "new" });
  expect(lstatSync(join(dir, "key")).isSymbolicLink()).toBe(true);
  expect(await s.read("key")).toBe("new");
});

test("a concurrent reader never sees a key from one set with a certificate from another", async () => {
  const dir = join(base, "consistency");
  const s = new DirectoryStore(dir);
  await s.init();
  await s.writeSet("identity", { key: "gen-0", cert: "gen-0" });
  // A reader in another process pairs key and cert through the `..identity` link, the way a
  // consumer opening DIR/key and DIR/cert at one instant would.
  const reader = Bun.spawn(
    [
      process.execPath,
      "-e",
      `const fs=require("fs");let bad=0,n=0;const end=Date.now()+1500;while(Date.now()<end){try{const d=fs.readlinkSync(${JSON.stringify(join(dir, "..identity"))});const k=fs.readFileSync(${JSON.stringify(dir)}+"/"+d+"/key","utf8");const c=fs.readFileSync(${JSON.stringify(dir)}+"/"+d+"/cert","utf8");n++;if(k!==c)bad++}catch{}}console.log(JSON.stringify({bad,n}))`,
    ],
    { stdout: "pipe" },
  );
  for (let i = 1; i < 200; i++) await s.writeSet("identity", { key: `gen-${i}`, cert: `gen-${i}` });
  const { bad, n } = JSON.parse(await new Response(reader.stdout).text());
  expect(n).toBeGreaterThan(0);
  expect(bad).toBe(0);
});

test("the lock is exclusive across processes and released when its holder dies (kill -9)", async () => {
  const dir = join(base, "lock");
  const s = new DirectoryStore(dir);
  await s.init();
  const release = await s.lock();
  const lockProbe = `const {DirectoryStore}=await import(${JSON.stringify(join(import.meta.dir, "../../../src/agent/storage/directory.ts"))});try{await new DirectoryStore(${JSON.stringify(dir)}).lock();console.log("locked")}catch(e){console.log("refused:"+e.message)}`;
  const second = spawnSync([process.execPath, "-e", lockProbe]);
  expect(second.stdout.toString()).toContain("refused:");
  expect(second.stdout.toString()).toContain("in use by another tbot process");
  release();
  // A holder killed with SIGKILL leaves no stale lock behind.
  const holder = Bun.spawn(
    [
      process.execPath,
      "-e",
      `${lockProbe.replace('console.log("locked")', 'console.log("locked");await Bun.sleep(60000)')}`,
    ],
    { stdout: "pipe" },
  );
  const rd = holder.stdout.getReader();
  const first = new TextDecoder().decode((await rd.read()).value);
  expect(first).toContain("locked");
  expect(spawnSync([process.execPath, "-e", lockProbe]).stdout.toString()).toContain("refused:");
  holder.kill("SIGKILL");
  await holder.exited;
  expect(spawnSync([process.execPath, "-e", lockProbe]).stdout.toString()).toContain("locked");
});

test("an unwritable destination fails the write test with a clear message", async () => {
  const dir = join(base, "ro");
  const s = new DirectoryStore(dir);
  await s.init();
  // Root ignores directory modes, so use a path under a regular file instead.
  writeFileSync(join(base, "a-file"), "");
  const bad = new DirectoryStore(join(base, "a-file", "sub"));
  await expect(bad.init()).rejects.toThrow(/is not writable \(E(NOTDIR|EXIST)\)/);
});

test("removeSet takes away a set's links and generations, and only names that are its own links", async () => {
  const dir = join(base, "remove-set");
  const s = new DirectoryStore(dir);
  await s.init();
  await s.writeSet("joinkey", { join_key: "K", "join_key.tokenhash": "H" });
  await s.writeSet("storage", { key: "S" });
  writeFileSync(join(dir, "other"), "not the set's");
  await s.removeSet("joinkey", ["join_key", "join_key.tokenhash", "other"]);
  expect(await s.read("join_key")).toBeNull();
  expect(readdirSync(dir).filter((e) => e.includes("joinkey") || e.startsWith("join_key"))).toEqual([]);
  expect(readFileSync(join(dir, "other"), "utf8")).toBe("not the set's");
  expect(await s.read("key")).toBe("S");
  await s.removeSet("joinkey", ["join_key"]); // nothing left to remove: no error
});

test("a name the new set no longer has is removed with its link; others' names are left", async () => {
  const dir = join(base, "stale");
  const s = new DirectoryStore(dir);
  await s.writeSet("identity", { key: "K1", "tls.crt": "C1", "tls.key": "K1" });
  // Not ours: a plain file, and a link into the set under another name.
  writeFileSync(join(dir, "notes"), "mine");
  spawnSync(["ln", "-s", "..identity/key", join(dir, "alias")]);
  await s.writeSet("identity", { key: "K2" });
  expect(
    readdirSync(dir)
      .filter((e) => !e.startsWith(".."))
      .sort(),
  ).toEqual(["alias", "key", "notes"]);
  expect(readdirSync(dir)).not.toContain("tls.crt");
  expect(readdirSync(dir)).not.toContain("tls.key");
  expect(await s.read("key")).toBe("K2");
  expect(readFileSync(join(dir, "notes"), "utf8")).toBe("mine");
  expect(lstatSync(join(dir, "alias")).isSymbolicLink()).toBe(true);
});
