// The one packaging command: builds dist/tbot (scripts/build.ts), then dist/tbot_<v>_amd64.deb
// with dpkg-deb and dist/tbot-<v>-1.x86_64.rpm with rpmbuild (nfpm is not available here).
//
//   bun scripts/package.ts [--no-build] [--version V] [--out DIR] [--only deb|rpm] [--fast]
//
// Both packages are made from one staged file list: the binary (never stripped: a stripped
// Bun executable loses its embedded program), its links, example configs, the udev rule and
// the systemd units (tbot.service gets its PID file directory from RuntimeDirectory=). The units are rendered by the same functions that
// `tbot install systemd` and `tauth install systemd` call, with the arguments those commands
// get for a packaged install (test/e2e/packages-deb.test.ts compares them with the installed
// binary's own output). The version is the binary's (package.json + git describe) made
// Debian/RPM-legal; --version (or TBOT_PACKAGE_VERSION) overrides it, e.g. for upgrade tests.
// --fast compresses at the lowest level (tests); releases use xz.

import {
  chmodSync,
  copyFileSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { spawnSync } from "bun";
import { defaultPidFile, renderTauthUnit, renderTbotUnit } from "../src/agent/systemd-unit.ts";

// Staged directories and files get their modes from here and explicit chmods, whatever
// umask the caller has (a 077 one would otherwise ship 0700 directories).
process.umask(0o022);

const root = join(import.meta.dir, "..");
const pkgDir = join(root, "packaging");
const { values: opt } = parseArgs({
  args: process.argv.slice(2),
  strict: true,
  options: {
    "no-build": { type: "boolean" },
    version: { type: "string" },
    out: { type: "string" },
    only: { type: "string" },
    fast: { type: "boolean" },
  },
});
// TBOT_DIST: the binary built elsewhere (scripts/build.ts honours it too).
const dist = process.env.TBOT_DIST || join(root, "dist");
const out = opt.out ?? dist;
const formats = opt.only ? [opt.only] : ["deb", "rpm"];
if (formats.some((f) => f !== "deb" && f !== "rpm")) {
  console.error(`package: --only takes deb or rpm, not "${opt.only}"`);
  process.exit(2);
}

/** Same paths in both packages; the account the services run as. */
const target = {
  bin: "/usr/bin/tbot",
  tauth: "/usr/bin/tauth",
  tbotConfig: "/etc/tbot.yaml",
  tauthConfig: "/etc/tauth.yaml",
  tauthDataDir: "/var/lib/teleport/auth",
  user: "teleport",
  group: "teleport",
};

// What `tbot install systemd --config /etc/tbot.yaml --user teleport --group teleport --name tbot
// --tbot-path /usr/bin/tbot` renders (src/cli/tbot-install.ts), and the tauth equivalent with
// `--data-dir /var/lib/teleport/auth` (given as a flag, so it is also on tauth's command line).
const units = {
  "tbot.service": renderTbotUnit({
    tbotPath: target.bin,
    configPath: target.tbotConfig,
    name: "tbot",
    user: target.user,
    group: target.group,
    pidFile: defaultPidFile("tbot"),
    anonymousTelemetry: false,
  }),
  "tauth.service": renderTauthUnit({
    tauthPath: target.tauth,
    configPath: target.tauthConfig,
    dataDir: target.tauthDataDir,
    dataDirOnCommandLine: true,
    name: "tauth",
    user: target.user,
    group: target.group,
  }),
};

/** One maintainer for both packages: the .deb's control template names it. */
const maintainer =
  /^Maintainer: (.+)$/m.exec(readFileSync(join(pkgDir, "deb/control.in"), "utf8"))?.[1] ?? "";

/** Thrown, not exit(): the finally below must remove the staging directory. */
function fail(msg: string): never {
  throw new Error(msg);
}

function run(cmd: string[], what: string): string {
  const r = spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0)
    fail(`${what} failed (${cmd.join(" ")}):\n${r.stdout.toString()}${r.stderr.toString()}`);
  return r.stdout.toString();
}

/** `0.1.0+024ac7a-dirty` → `0.1.0+024ac7a.dirty`; `v0.2.0-3-gabc` → `0.2.0+3.gabc`. */
function packageVersion(binaryVersion: string): string {
  let v = binaryVersion.replace(/^v/, "");
  if (!v.includes("+")) v = v.replace("-", "+");
  return v.replaceAll("-", ".");
}

function put(stage: string, path: string, content: string | Buffer, mode = 0o644): void {
  const file = join(stage, path);
  mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
  writeFileSync(file, content);
  chmodSync(file, mode);
}

/** The files both packages install; only the systemd/udev/doc locations differ by family. */
function stage(dir: string, layout: { lib: string; copyright: string }): void {
  const bin = join(dir, target.bin);
  mkdirSync(dirname(bin), { recursive: true, mode: 0o755 });
  copyFileSync(join(dist, "tbot"), bin);
  chmodSync(bin, 0o755);
  for (const link of ["tctl", "tauth"]) symlinkSync("tbot", join(dirname(bin), link));
  const common = (name: string) => readFileSync(join(pkgDir, "common", name));
  put(dir, target.tbotConfig, common("tbot.yaml"));
  put(dir, target.tauthConfig, common("tauth.yaml"));
  for (const [name, text] of Object.entries(units)) put(dir, `${layout.lib}/systemd/system/${name}`, text);
  put(dir, `${layout.lib}/udev/rules.d/59-tbot-tpm.rules`, common("59-tbot-tpm.rules"));
  put(dir, layout.copyright, common("copyright"));
  put(dir, "/usr/share/doc/tbot/README", common("README"));
  for (const page of ["tbot", "tctl", "tauth"])
    put(dir, `/usr/share/man/man1/${page}.1.gz`, gzip(common(`man/${page}.1`)));
}

/** gzip -9n: what Debian wants for man pages and changelogs (no timestamp, max compression). */
function gzip(data: string | Buffer): Buffer {
  return gzipSync(data, { level: 9 });
}

/** Every regular file and symlink under dir, relative, sorted. */
function walk(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name), base) : [relative(base, join(dir, e.name))]))
    .sort();
}

function withSysuser(template: string): string {
  const fragment = readFileSync(join(pkgDir, "common/sysuser.sh"), "utf8").trimEnd();
  return template.replaceAll("@SYSUSER@", fragment);
}

function buildDeb(version: string, work: string): string {
  const dir = join(work, "deb");
  stage(dir, { lib: "/lib", copyright: "/usr/share/doc/tbot/copyright" });
  // Debian wants a changelog even in a binary-only package; a version without a Debian
  // revision is a native package's, whose changelog is changelog.gz.
  const date = new Date().toUTCString().replace("GMT", "+0000");
  const changelog = `tbot (${version}) unstable; urgency=medium\n\n  * Built from the tbot-ts sources.\n\n -- ${maintainer}  ${date}\n`;
  put(dir, "/usr/share/doc/tbot/changelog.gz", gzip(changelog));
  put(dir, "/usr/share/lintian/overrides/tbot", readFileSync(join(pkgDir, "deb/lintian-overrides")));

  const files = walk(dir);
  // Installed-Size as dpkg-gencontrol counts it: KiB per file, rounded up, plus one per directory.
  const dirs = new Set(
    files.flatMap((f) =>
      f
        .split("/")
        .slice(0, -1)
        .map((_, i, a) => a.slice(0, i + 1).join("/")),
    ),
  );
  const kib = files.reduce((n, f) => n + Math.ceil(lstatSync(join(dir, f)).size / 1024), dirs.size);
  const control = readFileSync(join(pkgDir, "deb/control.in"), "utf8")
    .replace("@VERSION@", version)
    .replace("@INSTALLED_SIZE@", String(kib))
    .replace("@GLIBC@", glibcFloor(join(dir, target.bin)));
  put(dir, "DEBIAN/control", control);
  put(dir, "DEBIAN/conffiles", readFileSync(join(pkgDir, "deb/conffiles")));
  put(dir, "DEBIAN/triggers", readFileSync(join(pkgDir, "deb/triggers")));
  put(dir, "DEBIAN/postinst", withSysuser(readFileSync(join(pkgDir, "deb/postinst.in"), "utf8")), 0o755);
  for (const s of ["prerm", "postrm"]) put(dir, `DEBIAN/${s}`, readFileSync(join(pkgDir, "deb", s)), 0o755);
  const md5 = files
    .filter((f) => !lstatSync(join(dir, f)).isSymbolicLink())
    .map((f) => `${new Bun.CryptoHasher("md5").update(readFileSync(join(dir, f))).digest("hex")}  ${f}\n`);
  put(dir, "DEBIAN/md5sums", md5.join(""));
  chmodSync(join(dir, "DEBIAN"), 0o755);

  const file = join(out, `tbot_${version}_amd64.deb`);
  // --root-owner-group: every file root:root whoever builds (what fakeroot is usually for);
  // the teleport-owned directories are made by postinst, as the user only exists there.
  const z = opt.fast ? ["-Zgzip", "-z1"] : ["-Zxz", "-z6"];
  run(["dpkg-deb", "--root-owner-group", ...z, "--build", dir, file], "dpkg-deb");
  return file;
}

/** The newest GLIBC_x.y symbol version the binary asks for: the libc6 it depends on. */
function glibcFloor(bin: string): string {
  const text = readFileSync(bin).toString("latin1");
  const versions = [...text.matchAll(/GLIBC_(2\.\d+)\0/g)].map((m) => m[1]!);
  const key = (v: string) => Number(v.split(".")[1]);
  return versions.sort((a, b) => key(a) - key(b)).at(-1) ?? fail("no GLIBC symbol versions in dist/tbot");
}

function buildRpm(version: string, work: string): string {
  const dir = join(work, "rpm");
  stage(dir, { lib: "/usr/lib", copyright: "/usr/share/licenses/tbot/copyright" });
  for (const d of ["bot", "auth"])
    mkdirSync(join(dir, "var/lib/teleport", d), { recursive: true, mode: 0o755 });
  const top = join(work, "rpmbuild");
  const spec = withSysuser(readFileSync(join(pkgDir, "rpm/tbot.spec.in"), "utf8"))
    .replaceAll("@VERSION@", version)
    .replaceAll("@STAGE@", dir)
    .replaceAll("@PAYLOAD@", opt.fast ? "w1.gzdio" : "w6T.xzdio")
    .replaceAll("@MAINTAINER@", maintainer)
    // %changelog wants "Fri Nov 21 2026".
    .replaceAll("@DATE@", new Date().toUTCString().replace(/^(\w+), (\d+) (\w+) (\d+).*$/, "$1 $3 $2 $4"));
  put(top, "SPECS/tbot.spec", spec);
  run(
    [
      "rpmbuild",
      "-bb",
      "--define",
      `_topdir ${top}`,
      "--define",
      `_rpmdir ${out}`,
      "--define",
      "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm",
      join(top, "SPECS/tbot.spec"),
    ],
    "rpmbuild",
  );
  return join(out, `tbot-${version}-1.x86_64.rpm`);
}

const work = mkdtempSync(join(tmpdir(), "tbot-package-"));
try {
  if (!opt["no-build"]) {
    const r = spawnSync([process.execPath, join(root, "scripts/build.ts")], {
      stdout: "inherit",
      stderr: "inherit",
    });
    if (r.exitCode !== 0) fail("build failed");
  }
  const reported = /^tbot v(\S+)$/m.exec(run([join(dist, "tbot"), "version"], "dist/tbot version"))?.[1];
  const version = opt.version ?? process.env.TBOT_PACKAGE_VERSION ?? packageVersion(reported ?? "");
  // The characters both Debian and RPM accept in a version (no hyphen: it separates the release).
  if (!/^[0-9][A-Za-z0-9.+~]*$/.test(version)) fail(`"${version}" is not a valid package version`);
  mkdirSync(out, { recursive: true });
  for (const f of formats) {
    const t0 = performance.now();
    const file = f === "deb" ? buildDeb(version, work) : buildRpm(version, work);
    const mib = (statSync(file).size / 1048576).toFixed(1);
    console.log(
      `built ${relative(process.cwd(), file)} (${mib} MiB) in ${Math.round(performance.now() - t0)} ms`,
    );
  }
} catch (e) {
  console.error(`package: ${(e as Error).message}`);
  process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
