// The *at(2) family through bun:ffi (node:fs has no openat): every name tbot creates, reads,
// replaces or removes inside a store is resolved relative to a directory file descriptor it
// verified, with O_NOFOLLOW / unlinkat, so a link planted or swapped in by someone else can
// never redirect an operation outside that directory.

import { CString, dlopen, FFIType, read } from "bun:ffi";
import { closeSync, constants } from "node:fs";
import { constants as osConstants } from "node:os";

const { i32, ptr, u32, u64, i64 } = FFIType;

export const O_RDONLY = constants.O_RDONLY;
export const O_WRONLY = constants.O_WRONLY;
export const O_RDWR = constants.O_RDWR;
export const O_CREAT = constants.O_CREAT;
export const O_EXCL = constants.O_EXCL;
export const O_NOFOLLOW = constants.O_NOFOLLOW;
export const O_DIRECTORY = constants.O_DIRECTORY;
/** Not in Bun's fs.constants; the same value on every Linux architecture. */
export const O_CLOEXEC = 0o2000000;
export const AT_FDCWD = -100;
export const AT_REMOVEDIR = 0x200;

const symbols = {
  openat: { args: [i32, ptr, i32, u32], returns: i32 },
  mkdirat: { args: [i32, ptr, u32], returns: i32 },
  unlinkat: { args: [i32, ptr, i32], returns: i32 },
  renameat: { args: [i32, ptr, i32, ptr], returns: i32 },
  symlinkat: { args: [ptr, i32, ptr], returns: i32 },
  readlinkat: { args: [i32, ptr, ptr, u64], returns: i64 },
  dup: { args: [i32], returns: i32 },
  fdopendir: { args: [i32], returns: ptr },
  readdir: { args: [ptr], returns: ptr },
  rewinddir: { args: [ptr], returns: FFIType.void },
  closedir: { args: [ptr], returns: i32 },
  __errno_location: { args: [], returns: ptr },
  // syscall(SYS_openat2, dirfd, path, struct open_how *, size): glibc has no openat2 wrapper.
  syscall: { args: [i64, i32, ptr, ptr, u64], returns: i64 },
} as const;

let libc: ReturnType<typeof dlopen<typeof symbols>> | null = null;
function lib() {
  libc ??= dlopen("libc.so.6", symbols);
  return libc.symbols;
}

const errnoNames = new Map<number, string>(
  Object.entries(osConstants.errno).map(([name, n]) => [n as number, name]),
);

/** An error shaped like node's (code "ELOOP", syscall, path), so callers treat both alike. */
export class SysError extends Error implements NodeJS.ErrnoException {
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;
  readonly path: string;
  constructor(syscall: string, errno: number, path: string) {
    const code = errnoNames.get(errno) ?? `errno ${errno}`;
    super(`${code}: ${syscall} ${path}`);
    this.code = code;
    this.errno = errno;
    this.syscall = syscall;
    this.path = path;
  }
}

function errno(): number {
  const p = lib().__errno_location();
  return p ? read.i32(p) : 0;
}

const cstr = (s: string) => Buffer.from(`${s}\0`);

function check(r: number | bigint, syscall: string, name: string): number {
  const n = Number(r);
  if (n < 0) throw new SysError(syscall, errno(), name);
  return n;
}

export function openat(dirFd: number, name: string, flags: number, mode = 0): number {
  return check(lib().openat(dirFd, cstr(name), flags | O_CLOEXEC, mode), "openat", name);
}

/** openat2(2) is 437 on every Linux architecture (the unified syscall table, Linux 5.6+). */
const SYS_openat2 = 437;
/** struct open_how.resolve: fail with ELOOP on a symlink anywhere in the path. */
export const RESOLVE_NO_SYMLINKS = 0x04;

/** openat2(2) with `resolve` flags; throws SysError (ENOSYS where the kernel lacks it). */
export function openat2(dirFd: number, name: string, flags: number, resolve: number): number {
  // struct open_how { __u64 flags; __u64 mode; __u64 resolve; }, in the machine's byte order.
  const how = new BigUint64Array([BigInt(flags | O_CLOEXEC), 0n, BigInt(resolve)]);
  return check(lib().syscall(SYS_openat2, dirFd, cstr(name), how, 24), "openat2", name);
}

let openat2Probe: boolean | null = null;

/** Whether this kernel (and any seccomp filter in front of it) lets openat2 through. */
export function hasOpenat2(): boolean {
  if (openat2Probe === null) {
    try {
      closeSync(openat2(AT_FDCWD, "/", O_RDONLY | O_DIRECTORY, RESOLVE_NO_SYMLINKS));
      openat2Probe = true;
    } catch {
      // ENOSYS (kernel < 5.6), or EPERM from a seccomp filter that does not know it.
      openat2Probe = false;
    }
  }
  return openat2Probe;
}

/** For tests: pretend the kernel has (true) or lacks (false) openat2; null probes again. */
export function setOpenat2ForTest(v: boolean | null): void {
  openat2Probe = v;
}

/** Open a directory entry that must be a real directory (a symlink fails with ELOOP). */
export function openDirAt(dirFd: number, name: string): number {
  return openat(dirFd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
}

export function mkdirat(dirFd: number, name: string, mode: number): void {
  check(lib().mkdirat(dirFd, cstr(name), mode), "mkdirat", name);
}

/** Remove a name (a link is removed itself, never followed); AT_REMOVEDIR for an empty directory. */
export function unlinkat(dirFd: number, name: string, flags = 0): void {
  check(lib().unlinkat(dirFd, cstr(name), flags), "unlinkat", name);
}

export function renameat(dirFd: number, from: string, to: string): void {
  check(lib().renameat(dirFd, cstr(from), dirFd, cstr(to)), "renameat", to);
}

export function symlinkat(target: string, dirFd: number, name: string): void {
  check(lib().symlinkat(cstr(target), dirFd, cstr(name)), "symlinkat", name);
}

/** The target of a symlink, or null when `name` does not exist or is not a symlink. */
export function readlinkat(dirFd: number, name: string): string | null {
  const buf = Buffer.alloc(4096);
  const n = Number(lib().readlinkat(dirFd, cstr(name), buf, BigInt(buf.length)));
  if (n >= 0) return buf.subarray(0, n).toString("utf8");
  const e = errno();
  if (e === osConstants.errno.ENOENT || e === osConstants.errno.EINVAL) return null;
  throw new SysError("readlinkat", e, name);
}

/** Entry names of an open directory, without "." and "..". */
export function listDir(dirFd: number): string[] {
  const copy = check(lib().dup(dirFd), "dup", "");
  const dir = lib().fdopendir(copy);
  if (!dir) {
    const e = errno();
    closeSync(copy);
    throw new SysError("fdopendir", e, "");
  }
  const names: string[] = [];
  try {
    // The copy shares its offset with dirFd: start from the top whatever an earlier listing left.
    lib().rewinddir(dir);
    for (;;) {
      const ent = lib().readdir(dir);
      if (!ent) break;
      // glibc's struct dirent on 64-bit Linux: d_ino (8), d_off (8), d_reclen (2), d_type (1), d_name.
      const name = new CString(ent, 19).toString();
      if (name !== "." && name !== "..") names.push(name);
    }
  } finally {
    lib().closedir(dir);
  }
  return names;
}

export function errorCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException)?.code;
}
