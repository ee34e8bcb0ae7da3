// The .deb in clean Debian roots made by `debootstrap --variant=minbase` (issue 5, done-when 2):
// install with dpkg, the programs run, the user, directories and permissions are right, the
// packaged units are what `tbot/tauth install systemd` print for the same arguments, a later
// tpm-udev puts the user in tss (file trigger), an upgrade keeps an edited /etc/tbot.yaml,
// purge leaves nothing behind but the teleport user.
// On a root that also has systemd: `systemd-analyze verify`, the PID file's runtime directory, and purge
// removing the links `systemctl enable` made. Needs root (chroot), like dpkg itself.

import { beforeAll, describe, expect, test } from "bun:test";
import {
  appendFileSync,
  chmodSync,
  copyFileSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { basename, join } from "node:path";
import { ensureBuilt, root as repo, tbotBin } from "../harness/binary.ts";
import { type DebianRoot, debianRoot, isRoot } from "../harness/debootstrap.ts";
import { cleanupAfterFile, run, tempDir } from "../harness/proc.ts";

cleanupAfterFile();

const out = tempDir("pkg-deb-");
let v1 = "";
let v2 = "";
let deb1 = "";
let deb2 = "";

/** `bun scripts/package.ts` on the binary already built, quick compression, into `out`. */
function buildDeb(version?: string): string {
  const args = [
    "--no-build",
    "--fast",
    "--only",
    "deb",
    "--out",
    out,
    ...(version ? ["--version", version] : []),
  ];
  const r = run([process.execPath, join(repo, "scripts/package.ts"), ...args]);
  if (r.code !== 0) throw new Error(`package.ts failed:\n${r.stdout}${r.stderr}`);
  const file = /built (\S+\.deb)/.exec(r.stdout)?.[1];
  if (!file) throw new Error(`no .deb in package.ts output:\n${r.stdout}`);
  return join(out, basename(file));
}

const field = (deb: string, name: string) => run(["dpkg-deb", "-f", deb, name]).stdout.trim();

beforeAll(() => {
  ensureBuilt();
  // The first version is the one package.ts derives from the binary; the second sorts after it.
  deb1 = buildDeb();
  v1 = field(deb1, "Version");
  v2 = `${v1}.1`;
  deb2 = buildDeb(v2);
}, 120_000);

function ok(r: { code: number; stdout: string; stderr: string }, what: string): string {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/**
 * A stand-in for Debian's tpm-udev (not in minbase, and the tests fetch nothing): the same
 * rules file, whose arrival fires tbot's file trigger, and a postinst creating tss.
 */
function fakeTpmUdev(): string {
  const dir = tempDir("tpm-udev-");
  mkdirSync(join(dir, "DEBIAN"));
  mkdirSync(join(dir, "lib/udev/rules.d"), { recursive: true });
  writeFileSync(
    join(dir, "DEBIAN/control"),
    "Package: tpm-udev\nVersion: 0.6+test\nArchitecture: all\nMaintainer: test <test@example.com>\nDescription: stand-in\n",
  );
  writeFileSync(
    join(dir, "DEBIAN/postinst"),
    "#!/bin/sh\nset -e\ngetent group tss >/dev/null || groupadd --system tss\n",
  );
  chmodSync(join(dir, "DEBIAN/postinst"), 0o755);
  writeFileSync(
    join(dir, "lib/udev/rules.d/60-tpm-udev.rules"),
    'KERNEL=="tpmrm[0-9]*", MODE="0660", GROUP="tss"\n',
  );
  const deb = join(out, "tpm-udev.deb");
  ok(run(["dpkg-deb", "--root-owner-group", "--build", dir, deb]), "dpkg-deb tpm-udev");
  return deb;
}

function dpkgInstall(root: DebianRoot, deb: string): string {
  copyFileSync(deb, root.path("tmp/tbot.deb"));
  // stdin closed: a conffile question would fail the install instead of waiting.
  const r = root.run(["dpkg", "-i", "/tmp/tbot.deb"]);
  return ok(r, `dpkg -i ${basename(deb)}`);
}

/** Every path in the root (relative), except the kernel file systems. */
function paths(root: DebianRoot): Set<string> {
  const r = run(["find", ".", "-xdev"], { cwd: root.dir });
  return new Set(r.stdout.split("\n").filter((p) => p && !/^\.\/(proc|sys|dev)\//.test(p)));
}

/** Whether a path exists in the root, without following links (they point into the root). */
function present(root: DebianRoot, p: string): boolean {
  try {
    lstatSync(root.path(p));
    return true;
  } catch {
    return false;
  }
}

/** dpkg's record of tbot in the root: "install ok installed <version>". */
function dpkgStatus(root: DebianRoot): string {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own field syntax.
  return ok(root.run(["dpkg-query", "-W", "-f", "${Status} ${Version}", "tbot"]), "dpkg-query");
}

const stat = (root: DebianRoot, p: string) => ok(root.run(["stat", "-c", "%a %U %G", p]), `stat ${p}`).trim();

describe.skipIf(!isRoot)("the .deb in a minbase root", () => {
  let root: DebianRoot;
  let before: Set<string>;

  test("installs with dpkg -i; tbot, tctl and tauth run", () => {
    root = debianRoot();
    before = paths(root);
    dpkgInstall(root, deb1);
    expect(dpkgStatus(root)).toBe(`install ok installed ${v1}`);
    for (const p of ["tbot", "tctl", "tauth"])
      expect(ok(root.run([p, "version"]), `${p} version`)).toMatch(new RegExp(`^${p} v\\S+\\n$`));
    expect(readFileSync(root.path("usr/bin/tbot")).equals(readFileSync(tbotBin))).toBe(true);
  }, 120_000);

  test("the teleport system user, its directories and the config permissions", () => {
    const [name, , uid, gid, gecos, home, shell] = ok(root.run(["getent", "passwd", "teleport"]), "getent")
      .trim()
      .split(":");
    expect({ name, home, shell, gecos }).toEqual({
      name: "teleport",
      home: "/var/lib/teleport",
      shell: "/usr/sbin/nologin",
      gecos: "Teleport machine identity",
    });
    expect(Number(uid)).toBeLessThan(1000); // a system user
    expect(ok(root.run(["getent", "group", "teleport"]), "getent group")).toStartWith(`teleport:x:${gid}:`);
    // minbase has no tss group: nothing to join.
    expect(ok(root.run(["id", "-nG", "teleport"]), "id").trim()).toBe("teleport");
    expect(present(root, "var/lib/teleport/bot")).toBe(true);
    expect(stat(root, "/var/lib/teleport")).toBe("755 root root");
    expect(stat(root, "/var/lib/teleport/bot")).toBe("700 teleport teleport");
    expect(stat(root, "/var/lib/teleport/auth")).toBe("700 teleport teleport");
    expect(stat(root, "/etc/tbot.yaml")).toBe("640 root teleport");
    expect(stat(root, "/etc/tauth.yaml")).toBe("640 root teleport");
    const rule = readFileSync(root.path("lib/udev/rules.d/59-tbot-tpm.rules"), "utf8");
    expect(rule).toContain('KERNEL=="tpmrm[0-9]*", SUBSYSTEM=="tpmrm", MODE="0660", GROUP="teleport"');
  });

  test("the packaged units are what the installed binary's install systemd prints", () => {
    const unit = (n: string) => readFileSync(root.path(`lib/systemd/system/${n}.service`), "utf8");
    const common = ["install", "systemd", "--user", "teleport", "--group", "teleport"];
    const tbot = root.run([
      "tbot",
      ...common,
      "--config",
      "/etc/tbot.yaml",
      "--name",
      "tbot",
      "--tbot-path",
      "/usr/bin/tbot",
    ]);
    expect(ok(tbot, "tbot install systemd")).toBe(unit("tbot"));
    // The path of the running executable is the default, and the same.
    expect(ok(root.run(["tbot", ...common, "--config", "/etc/tbot.yaml"]), "tbot install systemd")).toBe(
      unit("tbot"),
    );
    const tauth = root.run([
      "tauth",
      ...common,
      "--config",
      "/etc/tauth.yaml",
      "--name",
      "tauth",
      "--tauth-path",
      "/usr/bin/tauth",
      "--data-dir",
      "/var/lib/teleport/auth",
    ]);
    expect(ok(tauth, "tauth install systemd")).toBe(unit("tauth"));
    expect(unit("tbot")).toContain("ExecStart=/usr/bin/tbot start -c /etc/tbot.yaml");
    expect(unit("tauth")).toContain("ExecStart=/usr/bin/tauth start -c /etc/tauth.yaml");
  });

  test("a tpm-udev installed later (the tss group) gets teleport into tss: dpkg file trigger", () => {
    dpkgInstall(root, fakeTpmUdev());
    expect(
      ok(root.run(["id", "-nG", "teleport"]), "id")
        .trim()
        .split(" ")
        .sort(),
    ).toEqual(["teleport", "tss"]);
  }, 60_000);

  test("an upgrade keeps the edited /etc/tbot.yaml, the bot's state and tss", () => {
    appendFileSync(root.path("etc/tbot.yaml"), "# edited by the upgrade test\n");
    const edited = readFileSync(root.path("etc/tbot.yaml"), "utf8");
    writeFileSync(root.path("var/lib/teleport/bot/state"), "kept");
    dpkgInstall(root, deb2);
    expect(dpkgStatus(root)).toBe(`install ok installed ${v2}`);
    expect(readFileSync(root.path("etc/tbot.yaml"), "utf8")).toBe(edited);
    for (const ext of [".dpkg-dist", ".dpkg-new", ".dpkg-old"])
      expect(present(root, `etc/tbot.yaml${ext}`)).toBe(false);
    expect(stat(root, "/etc/tbot.yaml")).toBe("640 root teleport");
    expect(readFileSync(root.path("var/lib/teleport/bot/state"), "utf8")).toBe("kept");
    expect(stat(root, "/var/lib/teleport/bot")).toBe("700 teleport teleport");
    expect(
      ok(root.run(["id", "-nG", "teleport"]), "id")
        .trim()
        .split(" ")
        .sort(),
    ).toEqual(["teleport", "tss"]);
  }, 60_000);

  test("remove keeps configs and state; purge leaves nothing but the teleport account", () => {
    ok(root.run(["dpkg", "-P", "tpm-udev"]), "dpkg -P tpm-udev"); // the stand-in's files
    ok(root.run(["dpkg", "-r", "tbot"]), "dpkg -r");
    expect(present(root, "usr/bin/tbot")).toBe(false);
    expect(present(root, "etc/tbot.yaml")).toBe(true);
    expect(present(root, "var/lib/teleport/bot/state")).toBe(true);
    ok(root.run(["dpkg", "-P", "tbot"]), "dpkg -P");
    expect(root.run(["dpkg-query", "-W", "tbot"]).code).not.toBe(0);
    // useradd/groupadd/usermod back up the account files they edit; Debian keeps system
    // users on purge (files elsewhere may still be theirs), so these belong to that account.
    const accountFiles = new Set(["./etc/passwd-", "./etc/group-", "./etc/shadow-", "./etc/gshadow-"]);
    const left = [...paths(root)].filter(
      (p) => !before.has(p) && !accountFiles.has(p) && p !== "./tmp/tbot.deb",
    );
    expect(left).toEqual([]);
    const named = [...paths(root)].filter((p) => /tbot|tauth|teleport/.test(p) && p !== "./tmp/tbot.deb");
    expect(named).toEqual([]);
    expect(ok(root.run(["getent", "passwd", "teleport"]), "getent")).toStartWith("teleport:");
  }, 60_000);
});

describe.skipIf(!isRoot)("the .deb in a minbase root with systemd", () => {
  let root: DebianRoot;

  test("systemd-analyze verify accepts the units; the PID file's directory comes from RuntimeDirectory", () => {
    root = debianRoot(["systemd", "procps"]);
    dpkgInstall(root, deb1);
    const r = root.run([
      "systemd-analyze",
      "verify",
      "/lib/systemd/system/tbot.service",
      "/lib/systemd/system/tauth.service",
    ]);
    expect({ code: r.code, output: r.stdout + r.stderr }).toEqual({ code: 0, output: "" });
    // systemd creates /run/tbot owned by the unit's user at start: no root-only /run file needed.
    const unit = root.run(["cat", "/lib/systemd/system/tbot.service"]).stdout;
    expect(unit).toContain("PIDFile=/run/tbot/tbot.pid\nRuntimeDirectory=tbot\n");
    expect(present(root, "usr/lib/tmpfiles.d/tbot.conf")).toBe(false);
  }, 180_000);

  test("purge removes the links that systemctl enable made", () => {
    ok(root.run(["systemctl", "enable", "tbot.service", "tauth.service"]), "systemctl enable");
    const wants = "etc/systemd/system/multi-user.target.wants";
    expect(present(root, `${wants}/tbot.service`)).toBe(true);
    ok(root.run(["dpkg", "-P", "tbot"]), "dpkg -P");
    for (const u of ["tbot", "tauth"]) {
      expect(present(root, `${wants}/${u}.service`)).toBe(false);
      expect(present(root, `etc/systemd/system/${u}.service`)).toBe(false);
    }
    expect(present(root, "var/lib/teleport")).toBe(false);
  }, 60_000);
});
