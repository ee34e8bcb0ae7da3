// Small but real packages for install.sh tests, built with dpkg-deb and rpmbuild: package
// "tbot" holding a two-line /usr/bin/tbot. And empty package databases to install them into
// with `dpkg --root` / `rpm --root`, so a test never touches the host's own.

import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "./proc.ts";

const FAKE_TBOT = "#!/bin/sh\necho fake tbot\n";

function ok(r: { code: number; stdout: string; stderr: string }, what: string): void {
  if (r.code !== 0) throw new Error(`${what} failed (${r.code}): ${r.stderr}${r.stdout}`);
}

/** tbot_<version>_amd64.deb in `outDir`; returns its path. */
export function buildFakeDeb(work: string, outDir: string, version: string): string {
  const tree = join(work, `deb-${version}`);
  mkdirSync(join(tree, "DEBIAN"), { recursive: true });
  mkdirSync(join(tree, "usr/bin"), { recursive: true });
  writeFileSync(join(tree, "usr/bin/tbot"), FAKE_TBOT);
  chmodSync(join(tree, "usr/bin/tbot"), 0o755);
  writeFileSync(
    join(tree, "DEBIAN/control"),
    `Package: tbot\nVersion: ${version}\nArchitecture: amd64\nMaintainer: tests <tests@example.test>\n` +
      "Description: stand-in tbot for install.sh tests\n",
  );
  const out = join(outDir, `tbot_${version}_amd64.deb`);
  ok(run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", tree, out]), "dpkg-deb --build");
  return out;
}

/** tbot-<version>-1.x86_64.rpm in `outDir`; returns its path. */
export function buildFakeRpm(work: string, outDir: string, version: string): string {
  const top = join(work, `rpm-${version}`);
  for (const d of ["SPECS", "BUILD", "RPMS", "SOURCES", "BUILDROOT"])
    mkdirSync(join(top, d), { recursive: true });
  const spec = join(top, "SPECS/tbot.spec");
  writeFileSync(
    spec,
    [
      "Name: tbot",
      `Version: ${version}`,
      "Release: 1",
      "Summary: stand-in tbot for install.sh tests",
      "License: none",
      "BuildArch: x86_64",
      "AutoReqProv: no",
      "%global debug_package %{nil}",
      "%global __os_install_post %{nil}",
      "%description",
      "stand-in",
      "%install",
      "mkdir -p %{buildroot}/usr/bin",
      `printf '${FAKE_TBOT.replaceAll("\n", "\\n")}' > %{buildroot}/usr/bin/tbot`,
      "chmod 755 %{buildroot}/usr/bin/tbot",
      "%files",
      "/usr/bin/tbot",
      "",
    ].join("\n"),
  );
  ok(
    run(["rpmbuild", "--define", `_topdir ${top}`, "--define", "_build_id_links none", "-bb", spec]),
    "rpmbuild",
  );
  const out = join(outDir, `tbot-${version}-1.x86_64.rpm`);
  ok(run(["cp", join(top, `RPMS/x86_64/tbot-${version}-1.x86_64.rpm`), out]), "cp");
  return out;
}

/** An empty dpkg database under `root`, and an os-release that says Debian. */
export function dpkgRoot(root: string): string {
  mkdirSync(join(root, "var/lib/dpkg/info"), { recursive: true });
  mkdirSync(join(root, "var/lib/dpkg/updates"), { recursive: true });
  writeFileSync(join(root, "var/lib/dpkg/status"), "");
  mkdirSync(join(root, "etc"), { recursive: true });
  writeFileSync(join(root, "etc/os-release"), 'ID=debian\nVERSION_ID="12"\n');
  return root;
}

/** An empty rpm database under `root`, and an os-release of a RHEL-like distribution. */
export function rpmRoot(root: string): string {
  mkdirSync(join(root, "etc"), { recursive: true });
  writeFileSync(join(root, "etc/os-release"), 'ID="rocky"\nID_LIKE="rhel centos fedora"\n');
  ok(run(["rpm", `--root=${root}`, "--initdb"]), "rpm --initdb");
  return root;
}
