// The .rpm (issue 5, done-when 3): contents, scripts and dependencies read back with rpm -qpl,
// --scripts and -qpR, then installed with `rpm --root` into a scratch root. The scratch root
// is a debootstrap minbase root rather than an empty directory so that the scriptlets really
// run (they need /bin/sh, getent and useradd); --nodeps because that root's packages are
// .debs that rpm's database knows nothing of (glibc, shadow-utils are there all the same).

import { beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { ensureBuilt, root as repo, tbotBin } from "../harness/binary.ts";
import { type DebianRoot, debianRoot, isRoot } from "../harness/debootstrap.ts";
import { cleanupAfterFile, run, tempDir } from "../harness/proc.ts";

cleanupAfterFile();

const out = tempDir("pkg-rpm-");
let rpm = "";

beforeAll(() => {
  ensureBuilt();
  const r = run([
    process.execPath,
    join(repo, "scripts/package.ts"),
    "--no-build",
    "--fast",
    "--only",
    "rpm",
    "--out",
    out,
  ]);
  if (r.code !== 0) throw new Error(`package.ts failed:\n${r.stdout}${r.stderr}`);
  rpm = join(out, basename(/built (\S+\.rpm)/.exec(r.stdout)?.[1] ?? "missing.rpm"));
}, 120_000);

function query(...args: string[]): string {
  const r = run(["rpm", "-qp", ...args, rpm]);
  if (r.code !== 0) throw new Error(`rpm -qp ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

describe("the .rpm", () => {
  test("rpm -qpl: the binary, its links, configs, units, udev rule, docs and state dirs", () => {
    expect(query("-l").trim().split("\n")).toEqual([
      "/etc/tauth.yaml",
      "/etc/tbot.yaml",
      "/usr/bin/tauth",
      "/usr/bin/tbot",
      "/usr/bin/tctl",
      "/usr/lib/systemd/system/tauth.service",
      "/usr/lib/systemd/system/tbot.service",
      "/usr/lib/udev/rules.d/59-tbot-tpm.rules",
      "/usr/share/doc/tbot/README",
      "/usr/share/licenses/tbot/copyright",
      "/usr/share/man/man1/tauth.1.gz",
      "/usr/share/man/man1/tbot.1.gz",
      "/usr/share/man/man1/tctl.1.gz",
      "/var/lib/teleport",
      "/var/lib/teleport/auth",
      "/var/lib/teleport/bot",
    ]);
    const modes = query(
      "--qf",
      "[%{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILEFLAGS:fflags} %{FILENAMES}\n]",
    );
    expect(modes).toContain("-rwxr-xr-x root:root  /usr/bin/tbot\n");
    expect(modes).toContain("lrwxrwxrwx root:root  /usr/bin/tctl\n");
    // %config(noreplace): an edited config survives upgrades.
    expect(modes).toContain("-rw-r----- root:teleport cn /etc/tbot.yaml\n");
    expect(modes).toContain("-rw-r----- root:teleport cn /etc/tauth.yaml\n");
    expect(modes).toContain("drwx------ teleport:teleport  /var/lib/teleport/bot\n");
    expect(modes).toContain("drwx------ teleport:teleport  /var/lib/teleport/auth\n");
  });

  test("rpm -qp --scripts: the user before the files, systemd told, services stopped on erase", () => {
    const s = query("--scripts");
    const pre = s.split("postinstall scriptlet")[0]!;
    expect(pre).toContain("preinstall scriptlet (using /bin/sh)");
    expect(pre).toContain("groupadd --system teleport");
    expect(pre).toContain("useradd --system --gid teleport --home-dir /var/lib/teleport");
    expect(pre).toContain("usermod --append --groups tss teleport");
    expect(s).not.toContain("tmpfiles");
    expect(s).toMatch(/preuninstall scriptlet[\s\S]*disable --now tbot.service tauth.service/);
    expect(s).toMatch(/postuninstall scriptlet[\s\S]*try-restart tbot.service tauth.service/);
    expect(query("--triggers")).toContain("triggerin scriptlet (using /bin/sh) -- tpm2-tss");
  });

  test("rpm -qpR: libc and the account tools are required; tpm2-tss only recommended", () => {
    const requires = query("-R");
    expect(requires).toContain("libc.so.6()(64bit)");
    expect(requires).toContain("shadow-utils");
    expect(requires).not.toMatch(/tss|tpm/i);
    expect(query("--recommends").trim()).toBe("tpm2-tss");
  });

  describe.skipIf(!isRoot)("rpm --root into a scratch root", () => {
    let root: DebianRoot;

    test("installs: scriptlets make the user, files get their owners, rpm -V passes", () => {
      root = debianRoot();
      // --force-debian: Debian's rpm otherwise warns that .debs are the way here.
      const rpmRoot = ["rpm", "--force-debian", "--root", root.dir];
      expect(run(["rpm", "--root", root.dir, "--initdb"]).code).toBe(0); // rpmdb takes no --force-debian
      const i = run([...rpmRoot, "-i", "--nodeps", rpm]);
      expect({ code: i.code, output: i.stdout + i.stderr }).toEqual({ code: 0, output: "" });
      expect(run([...rpmRoot, "-q", "tbot"]).stdout).toStartWith("tbot-");
      expect(root.run(["getent", "passwd", "teleport"]).stdout).toContain(
        ":/var/lib/teleport:/usr/sbin/nologin",
      );
      const stat = (p: string) => root.run(["stat", "-c", "%a %U %G", p]).stdout.trim();
      expect(stat("/var/lib/teleport/bot")).toBe("700 teleport teleport");
      expect(stat("/etc/tbot.yaml")).toBe("640 root teleport");
      const verify = run([...rpmRoot, "-V", "--nodeps", "tbot"]); // the files, not the deps
      expect({ code: verify.code, output: verify.stdout + verify.stderr }).toEqual({ code: 0, output: "" });
      // Installed as built: never stripped, so it still runs.
      expect(readFileSync(root.path("usr/bin/tbot")).equals(readFileSync(tbotBin))).toBe(true);
      expect(root.run(["tauth", "version"]).stdout).toStartWith("tauth v");
    }, 120_000);

    test("erases", () => {
      const e = run(["rpm", "--force-debian", "--root", root.dir, "-e", "tbot"]);
      expect({ code: e.code, output: e.stdout + e.stderr }).toEqual({ code: 0, output: "" });
      expect(run(["test", "-e", root.path("usr/bin/tbot")]).code).not.toBe(0);
      expect(run(["rpm", "--root", root.dir, "-q", "tbot"]).code).not.toBe(0);
    });
  });
});
