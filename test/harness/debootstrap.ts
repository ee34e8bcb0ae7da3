// Clean Debian roots for the package tests, made by `debootstrap --variant=minbase` from the
// mirror and suite this machine's apt uses. debootstrap takes ~30 s, so each root is made once
// and kept as a tarball (numeric owners) in a cache directory; every test gets a fresh copy
// (~2 s). Commands run in a root through chroot inside a private mount and PID namespace with
// its own /proc (the Bun runtime needs /proc/self/exe): the mount disappears with the
// process, so a failed test leaves nothing mounted. Needs root, like chroot itself.

import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { root as repoRoot } from "./binary.ts";
import { type RunResult, run, tempDir } from "./proc.ts";

export const isRoot = process.getuid?.() === 0;

/** /var/cache survives between runs on this machine; TBOT_TEST_CACHE moves it. */
export const cacheDir =
  process.env.TBOT_TEST_CACHE ??
  (isRoot ? "/var/cache/tbot-ts-tests" : join(repoRoot, "node_modules/.cache/tbot-ts-tests"));

/** The suite (os-release codename) and the first apt source that serves it, main component. */
export function aptSource(): { mirror: string; suite: string } {
  const osRelease = readFileSync("/etc/os-release", "utf8");
  const suite = /^VERSION_CODENAME=(\S+)$/m.exec(osRelease)?.[1] ?? "bookworm";
  const entries: { types: string[]; uris: string[]; suites: string[] }[] = [];
  const read = (f: string) => (existsSync(f) ? readFileSync(f, "utf8") : "");
  const dir = "/etc/apt/sources.list.d";
  const files = existsSync(dir) ? readdirSync(dir).map((f) => join(dir, f)) : [];
  // One-line format: "deb [options] URI SUITE COMPONENT...".
  for (const f of ["/etc/apt/sources.list", ...files.filter((f) => f.endsWith(".list"))])
    for (const line of read(f).split("\n")) {
      const m = /^\s*(deb)\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line);
      if (m) entries.push({ types: [m[1]!], uris: [m[2]!], suites: [m[3]!] });
    }
  // deb822 format: paragraphs of "Field: value".
  for (const f of files.filter((f) => f.endsWith(".sources")))
    for (const para of read(f).split(/\n\s*\n/)) {
      const field = (k: string) =>
        new RegExp(`^${k}:\\s*(.+)$`, "mi").exec(para)?.[1]?.trim().split(/\s+/) ?? [];
      if (field("Enabled")[0] === "no") continue;
      entries.push({ types: field("Types"), uris: field("URIs"), suites: field("Suites") });
    }
  const hit = entries.find((e) => e.types.includes("deb") && e.suites.includes(suite));
  return { mirror: hit?.uris[0] ?? "http://deb.debian.org/debian", suite };
}

/** Makes (once) and returns the cached tarball of a minbase root with `include` added. */
function rootTarball(include: string[]): string {
  const { mirror, suite } = aptSource();
  const name = `debootstrap-${suite}-minbase${include.length ? `-${include.join("-")}` : ""}.tar`;
  const tarball = join(cacheDir, name);
  if (existsSync(tarball)) return tarball;
  mkdirSync(cacheDir, { recursive: true });
  const work = join(cacheDir, `${name}.${process.pid}.d`);
  rmSync(work, { recursive: true, force: true });
  try {
    const inc = include.length ? [`--include=${include.join(",")}`] : [];
    const r = run(["debootstrap", "--variant=minbase", ...inc, suite, work, mirror]);
    if (r.code !== 0)
      throw new Error(`debootstrap ${suite} from ${mirror} failed:\n${(r.stdout + r.stderr).slice(-3000)}`);
    const t = run(["tar", "--numeric-owner", "-C", work, "-cf", `${tarball}.tmp`, "."]);
    if (t.code !== 0) throw new Error(`tar failed: ${t.stderr}`);
    renameSync(`${tarball}.tmp`, tarball); // never a half-written cache entry
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync(`${tarball}.tmp`, { force: true });
  }
  return tarball;
}

export interface DebianRoot {
  dir: string;
  /** Host path of a path inside the root. */
  path(p: string): string;
  /** Runs cmd in the root with a clean environment; stdin closed unless given. */
  run(cmd: string[], opts?: { stdin?: string }): RunResult;
}

/** A fresh root in a temp directory (removed when the test file ends). */
export function debianRoot(include: string[] = []): DebianRoot {
  const tarball = rootTarball(include);
  const dir = tempDir("debroot-");
  const x = run(["tar", "--numeric-owner", "-C", dir, "-xf", tarball]);
  if (x.code !== 0) throw new Error(`cannot extract ${tarball}: ${x.stderr}`);
  const env = { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C" };
  return {
    dir,
    path: (p) => join(dir, p),
    run: (cmd, opts = {}) =>
      run(
        [
          "unshare",
          "--mount",
          "--pid",
          "--fork",
          `--mount-proc=${join(dir, "proc")}`,
          "chroot",
          dir,
          "/usr/bin/env",
          "-i",
          ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
          ...cmd,
        ],
        opts,
      ),
  };
}
