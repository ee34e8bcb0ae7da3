// The compiled tbot, run as root, against storage and destination directories another
// (unprivileged) user prepared or tampers with while the daemon runs: nothing outside the
// directories tbot owns is ever removed, written or created. Each case below removed, wrote or
// created something in `victim` before tbot validated what it touches.

import { beforeAll, describe, expect, test } from "bun:test";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { tbotBin } from "../harness/binary.ts";
import {
  addBot,
  count,
  expectOneErrorLine,
  fileScope,
  legacyArgs,
  oneShot,
  until,
  writeText,
} from "../harness/extra.ts";
import { cleanupAfterFile, run, startProcess } from "../harness/proc.ts";
import type { TauthHandle } from "../harness/tauth.ts";
import { canActAsOtherUser, type Unprivileged, unprivilegedUser } from "../harness/unprivileged.ts";

cleanupAfterFile();
const scope = fileScope();

let auth: TauthHandle;
let work: string;
/** Sticky and world-writable, as /tmp: where the other user makes its own entries. */
let shared: string;
let attacker: Unprivileged;

beforeAll(async () => {
  if (!canActAsOtherUser()) return;
  attacker = unprivilegedUser();
  auth = await scope.tauth();
  work = scope.tempDir("storage-safety-");
  chmodSync(work, 0o755); // the other user may look, not write
  shared = join(work, "shared");
  mkdirSync(shared);
  chmodSync(shared, 0o1777);
});

let cases = 0;
/** A root-owned directory tree, next to the case's directories, that tbot must never touch. */
function victim(): string {
  const v = join(work, `victim-${cases++}`);
  mkdirSync(join(v, "deep"), { recursive: true });
  writeFileSync(join(v, "precious"), "keep me");
  writeFileSync(join(v, "deep", "also"), "keep me too");
  return v;
}

/** Every name, mode and content under `dir`, without following links. */
function tree(dir: string): Record<string, string> {
  if (!existsSync(dir)) return { "(removed)": dir };
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d).sort()) {
      const p = join(d, e);
      const st = lstatSync(p);
      const key = `${rel}${e}`;
      if (st.isSymbolicLink()) out[key] = `-> ${readlinkSync(p)}`;
      else if (st.isDirectory()) {
        out[`${key}/`] = `${(st.mode & 0o7777).toString(8)} ${st.uid}`;
        walk(p, `${key}/`);
      } else out[key] = `${(st.mode & 0o7777).toString(8)} ${st.uid} sha256:${sha256(readFileSync(p))}`;
    }
  };
  walk(dir, "");
  return out;
}

const sha256 = (b: Buffer) => new Bun.CryptoHasher("sha256").update(b).digest("hex").slice(0, 16);
const ownedByAttacker = (p: string) => expect(lstatSync(p).uid).toBe(attacker.uid);

const root = canActAsOtherUser();

describe.skipIf(!root)("directories another user prepared (tbot runs as root)", () => {
  test("1. an ..identity link to ..identity_x/../../victim in a world-writable destination: refused, nothing removed", () => {
    const v = victim();
    const before = tree(v);
    // A destination someone made world-writable; the other user plants the link the old
    // generation switch followed: join(dest, "..identity_x/../../victim-N") is the victim.
    const dest = join(work, "ww-out");
    mkdirSync(dest);
    chmodSync(dest, 0o777);
    attacker.sh(`ln -s '..identity_x/../../${v.split("/").pop()}' '${dest}/..identity'`);
    ownedByAttacker(join(dest, "..identity"));

    const r = oneShot(auth, { data: join(work, "ww-data"), dest, token: addBot(auth, "ww") });
    expect(tree(v)).toEqual(before);
    expect(expectOneErrorLine(r)).toBe(
      `ERROR: destination ${dest} is writable by group or others (mode 0777); run "chmod 0700 ${dest}" or choose a directory only tbot's user can write`,
    );
    expect(tree(v)).toEqual(before);
    expect(readdirSync(dest)).toEqual(["..identity"]);
  });

  test("2. a destination owned by the other user, with the same link planted: refused, nothing removed", () => {
    const v = victim();
    const before = tree(v);
    const dest = join(shared, "attacker-out");
    attacker.sh(
      `mkdir -m 0700 '${dest}' && ln -s '..identity_x/../../../${v.split("/").pop()}' '${dest}/..identity'`,
    );
    ownedByAttacker(dest);

    const r = oneShot(auth, { data: join(work, "owned-data"), dest, token: addBot(auth, "owned") });
    expect(tree(v)).toEqual(before);
    const line = expectOneErrorLine(r);
    expect(line).toStartWith(
      `ERROR: destination ${dest} is owned by ${attacker.name} (uid ${attacker.uid}), not by tbot's user`,
    );
    expect(tree(v)).toEqual(before);
    expect(readdirSync(dest)).toEqual(["..identity"]);
  });

  test("3. a storage directory owned by the other user with a dangling lock link: refused, the link's target not created", () => {
    const v = victim();
    const before = tree(v);
    const data = join(shared, "attacker-data");
    // The other user cannot create files in the victim; tbot (root) would, through `lock`.
    attacker.sh(`mkdir -m 0700 '${data}' && ln -s '${v}/created-by-tbot' '${data}/lock'`);
    expect(attacker.run(["touch", join(v, "created-by-tbot")]).code).not.toBe(0);

    const r = oneShot(auth, { data, dest: join(work, "lockplant-out"), token: addBot(auth, "lockplant") });
    expect(tree(v)).toEqual(before);
    expect(expectOneErrorLine(r)).toStartWith(`ERROR: storage ${data} is owned by ${attacker.name}`);
    expect(tree(v)).toEqual(before);
    expect(existsSync(join(v, "created-by-tbot"))).toBe(false);
  });

  test("4. a dangling lock link in tbot's own storage is not followed: one line, the target not created", () => {
    const v = victim();
    const before = tree(v);
    const data = join(work, "lock-data");
    mkdirSync(data, { mode: 0o700 });
    symlinkSync(join(v, "created-by-tbot"), join(data, "lock"));

    const r = oneShot(auth, { data, dest: join(work, "lock-out"), token: addBot(auth, "lockself") });
    expect(tree(v)).toEqual(before);
    expect(expectOneErrorLine(r)).toBe(
      `ERROR: storage ${data}: its lock file ${data}/lock is a symbolic link (to ${v}/created-by-tbot); tbot opens its lock file without following links: remove ${data}/lock`,
    );
    expect(tree(v)).toEqual(before);
  });

  test("5. a destination path that is the other user's link is not followed by default; symlinks: insecure follows a link", () => {
    const v = victim();
    const before = tree(v);
    const dest = join(shared, "out-link");
    attacker.sh(`ln -s '${v}' '${dest}'`);
    ownedByAttacker(dest);

    const r = oneShot(auth, { data: join(work, "link-data"), dest, token: addBot(auth, "linked") });
    expect(tree(v)).toEqual(before);
    expect(expectOneErrorLine(r)).toBe(
      `ERROR: destination ${dest} is a symbolic link (to ${v}) and tbot does not follow links in this path (symlinks: try-secure); use the real path, or set "symlinks: insecure" on this destination in tbot.yaml to follow it`,
    );
    expect(tree(v)).toEqual(before);

    // An operator's own link, followed because the configuration says so.
    const real = join(work, "insecure-real");
    mkdirSync(real, { mode: 0o700 });
    const link = join(work, "insecure-link");
    symlinkSync(real, link);
    const cfg = writeText(
      join(work, "insecure.yaml"),
      `version: v2
auth_server: ${auth.addr}
onboarding:
  join_method: token
  token: ${addBot(auth, "insecure-link")}
  ca_pins: [${auth.pin}]
storage:
  type: directory
  path: ${join(work, "insecure-data")}
services:
  - type: identity
    destination:
      type: directory
      path: ${link}
      symlinks: insecure
oneshot: true
`,
    );
    const ok = run([tbotBin, "start", "-c", cfg]);
    expect(ok.stderr).not.toContain("ERROR");
    expect(ok.code).toBe(0);
    expect(readFileSync(join(real, "tlscert"), "utf8")).toContain("BEGIN CERTIFICATE");

    // symlinks: secure is accepted and refuses the same link.
    writeFileSync(cfg, readFileSync(cfg, "utf8").replace("symlinks: insecure", "symlinks: secure"));
    expect(expectOneErrorLine(run([tbotBin, "start", "-c", cfg]))).toContain(
      `destination ${link} is a symbolic link (to ${real}) and tbot does not follow links in this path (symlinks: secure)`,
    );
  });
});

describe.skipIf(!root)("links swapped under a running daemon, then SIGHUP", () => {
  async function daemon(name: string) {
    const data = join(work, `${name}-data`);
    const dest = join(work, `${name}-out`);
    const bot = scope.proc(
      startProcess([
        ...legacyArgs(auth, { data, dest, token: addBot(auth, name) }),
        "--renewal-interval",
        "1h",
      ]),
    );
    await bot.waitFor(/Generated output/);
    const outputs = () => count(/Generated output/, bot.output());
    const hup = () => process.kill(bot.pid, "SIGHUP");
    return { bot, data, dest, outputs, hup };
  }

  test("6. a malicious ..identity link and a generation directory swapped for a link: the renewal replaces them, removes nothing outside", async () => {
    const v = victim();
    const before = tree(v);
    const d = await daemon("swap");
    const [gen] = readdirSync(d.dest).filter((e) => e.startsWith("..identity_"));
    // Both swaps the old code followed: the set link points out of the directory, and the
    // current generation (which the next renewal removes) is a link to the victim.
    rmSync(join(d.dest, "..identity"));
    symlinkSync(`..identity_x/../../${v.split("/").pop()}`, join(d.dest, "..identity"));
    rmSync(join(d.dest, gen!), { recursive: true });
    symlinkSync(v, join(d.dest, gen!));
    symlinkSync(v, join(d.dest, "..identity_planted"));

    d.hup();
    await until(() => d.outputs() >= 2, "a renewal after SIGHUP", 20_000);
    expect(tree(v)).toEqual(before);
    expect(d.bot.output()).toContain("Replaced a link tbot did not make; removed nothing it pointed at");
    const gens = readdirSync(d.dest).filter((e) => e.startsWith("..identity_"));
    expect(gens).toHaveLength(1);
    expect(lstatSync(join(d.dest, gens[0]!)).isDirectory()).toBe(true);
    expect(readlinkSync(join(d.dest, "..identity"))).toBe(gens[0]!);
    expect(readFileSync(join(d.dest, "tlscert"), "utf8")).toContain("BEGIN CERTIFICATE");
    expect(d.bot.proc.exitCode).toBeNull();
    expect(await d.bot.stop()).toBe(0);
  }, 60_000);

  test("7. the destination made world-writable while running, the other user plants the link: the renewal is refused, nothing removed", async () => {
    const v = victim();
    const before = tree(v);
    const d = await daemon("late");
    chmodSync(d.dest, 0o777);
    attacker.sh(`ln -sfn '..identity_x/../../${v.split("/").pop()}' '${d.dest}/..identity'`);
    ownedByAttacker(join(d.dest, "..identity"));

    d.hup();
    await until(
      () => /Renewal failed|Generated output[\s\S]*Generated output/.test(d.bot.output()),
      "the renewal after SIGHUP",
      20_000,
    );
    expect(tree(v)).toEqual(before);
    expect(d.bot.output()).toMatch(
      /Renewal failed; keeping the last good outputs and retrying .*destination [^ ]+ is writable by group or others \(mode 0777\)/,
    );
    expect(d.outputs()).toBe(1);
    expect(d.bot.proc.exitCode).toBeNull();
    expect(await d.bot.stop()).toBe(0);
  }, 60_000);
});
