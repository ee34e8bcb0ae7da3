// Where a shared library lives, as an absolute path. bun:ffi's dlopen("libX.so.0") retries
// "<cwd>/libX.so.0" when the system search fails, so a planted file in the working directory
// would be loaded and the error would name only that path. We never hand dlopen a bare soname.

import { existsSync } from "node:fs";
import { resolve } from "node:path";

/** A library that is in none of the directories searched. */
export class LibraryNotFound extends Error {
  constructor(
    readonly soname: string,
    readonly searched: readonly string[],
  ) {
    super(`${soname} not found in ${searched.join(":")}`);
    this.name = "LibraryNotFound";
  }
}

const multiarch: Record<string, string> = {
  x64: "x86_64-linux-gnu",
  arm64: "aarch64-linux-gnu",
  arm: "arm-linux-gnueabihf",
  ppc64: "powerpc64le-linux-gnu",
  s390x: "s390x-linux-gnu",
  riscv64: "riscv64-linux-gnu",
};

/**
 * The directories to search, in order. TSS2_LIBDIR, when set, is the only one: an operator who
 * names a directory means that one, and a test can make the library absent honestly.
 */
export function libraryDirs(env: Record<string, string | undefined> = process.env): string[] {
  const pinned = env.TSS2_LIBDIR;
  if (pinned) return [resolve(pinned)];
  const triple = multiarch[process.arch];
  const fromEnv = (env.LD_LIBRARY_PATH ?? "").split(":").filter((d) => d.startsWith("/"));
  const system = [
    ...(triple ? [`/usr/lib/${triple}`, `/lib/${triple}`] : []),
    ...["/usr/lib64", "/lib64", "/usr/lib", "/lib", "/usr/local/lib"],
  ];
  return [...new Set([...fromEnv, ...system])];
}

/** The absolute path of `soname` in the first directory that has it. */
export function locateLibrary(soname: string, dirs: readonly string[] = libraryDirs()): string {
  for (const dir of dirs) {
    const path = `${dir.replace(/\/+$/, "")}/${soname}`;
    if (existsSync(path)) return path;
  }
  throw new LibraryNotFound(soname, dirs);
}
