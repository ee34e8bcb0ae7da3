// The container image's root filesystem: the compiled tbot, exactly the shared libraries its
// ELF header asks for (as `ldd` resolves them), the Mozilla CA bundle from Debian's
// ca-certificates package, and a few /etc files for a non-root user. Nothing else: no shell,
// no package manager. The binary is copied as is, never stripped (a stripped Bun executable
// loses its embedded program).

import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { $ } from "bun";

/** uid/gid of the image's user, as distroless' "nonroot" (65532). */
export const IMAGE_UID = 65532;
export const BIN_PATH = "/usr/local/bin/tbot";
export const CA_BUNDLE_PATH = "/etc/ssl/certs/ca-certificates.crt";

export interface Rootfs {
  dir: string;
  /** Absolute paths (inside the image) of the libraries copied, as ldd resolved them. */
  libraries: string[];
  /** Every path in the root filesystem, directories included, sorted. */
  entries: string[];
}

/**
 * Libraries `ldd` resolves for an executable: "name => /path (addr)" lines and the dynamic
 * loader's own "/path (addr)" line. The vDSO has no file. A "not found" is an error: the
 * image would not start.
 */
export async function linkedLibraries(binary: string): Promise<string[]> {
  const out = (await $`ldd ${binary}`.quiet()).stdout.toString();
  const libs: string[] = [];
  for (const line of out.split("\n")) {
    if (/not found/.test(line)) throw new Error(`ldd ${binary}: ${line.trim()}`);
    const m = /=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) libs.push(m[1]!);
  }
  // tbot's flock(2) and setenv(3) go through bun:ffi dlopen("libc.so.6"): it must be here
  // even though the loader would find it anyway, so say so if the build stopped linking it.
  if (!libs.some((l) => l.endsWith("/libc.so.6"))) throw new Error("ldd lists no libc.so.6");
  return libs;
}

/**
 * The CA bundle as update-ca-certificates builds it from the ca-certificates package's own
 * certificates only (dpkg -L), not the host's /etc/ssl/certs, which may hold local CAs
 * (a corporate or sandbox proxy's) that must not ship in an image.
 */
export async function debianCaBundle(): Promise<string> {
  const listed = (await $`dpkg -L ca-certificates`.quiet()).stdout.toString();
  const certs = listed
    .split("\n")
    .filter((p) => /^\/usr\/share\/ca-certificates\/.+\.crt$/.test(p))
    .sort();
  if (certs.length < 50) throw new Error(`ca-certificates lists only ${certs.length} certificates`);
  return certs.map((p) => readFileSync(p, "utf8").replace(/\n?$/, "\n")).join("");
}

function writeFile(root: string, path: string, data: string | Buffer, mode: number): void {
  const full = join(root, path);
  mkdirSync(dirname(full), { recursive: true, mode: 0o755 });
  writeFileSync(full, data);
  chmodSync(full, mode);
}

/** Builds the root filesystem in `dir` (emptied first) from the executable `binary`. */
export async function buildRootfs(binary: string, dir: string): Promise<Rootfs> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const libraries = await linkedLibraries(binary);

  mkdirSync(join(dir, dirname(BIN_PATH)), { recursive: true, mode: 0o755 });
  copyFileSync(binary, join(dir, BIN_PATH));
  chmodSync(join(dir, BIN_PATH), 0o755);
  // tctl and tauth are the same executable started under another name.
  for (const name of ["tctl", "tauth"]) symlinkSync("tbot", join(dir, dirname(BIN_PATH), name));

  // Copied to the path ldd printed (the loader's path is also the binary's PT_INTERP), with
  // symlinks resolved: on a merged-/usr host /lib64 is a link, in the image a plain directory.
  for (const lib of libraries) writeFile(dir, lib, readFileSync(lib), 0o755);

  writeFile(dir, CA_BUNDLE_PATH, await debianCaBundle(), 0o644);
  writeFile(
    dir,
    "/etc/passwd",
    `root:x:0:0:root:/root:/sbin/nologin\ntbot:x:${IMAGE_UID}:${IMAGE_UID}:tbot:/nonexistent:/sbin/nologin\n`,
    0o644,
  );
  writeFile(dir, "/etc/group", `root:x:0:\ntbot:x:${IMAGE_UID}:\n`, 0o644);
  // glibc 2.34+ has files and dns built in; this only fixes the order (/etc/hosts first).
  writeFile(dir, "/etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files dns\n", 0o644);
  mkdirSync(join(dir, "tmp"));
  chmodSync(join(dir, "tmp"), 0o1777);
  // The layer records modes as they are on disk: make directories independent of the umask.
  await $`find . -type d ! -path ./tmp -exec chmod 0755 {} +`.cwd(dir).quiet();

  const entries = (await $`find . -mindepth 1`.cwd(dir).quiet()).stdout
    .toString()
    .split("\n")
    .filter(Boolean)
    .map((p) => p.slice(1))
    .sort();
  return { dir, libraries, entries };
}
