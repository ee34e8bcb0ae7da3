// flock(2) through bun:ffi: an advisory lock the kernel drops when the process dies, even by
// SIGKILL, so a crashed tbot never leaves a stale lock behind (a PID file would).

import { dlopen, FFIType } from "bun:ffi";

const LOCK_EX = 2;
const LOCK_NB = 4;
const LOCK_UN = 8;

let libc: { symbols: { flock(fd: number, op: number): number } } | null = null;

function lib() {
  libc ??= dlopen("libc.so.6", { flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 } });
  return libc;
}

/** Try to take an exclusive lock on an open fd without blocking; false if someone holds it. */
export function tryLockExclusive(fd: number): boolean {
  return lib().symbols.flock(fd, LOCK_EX | LOCK_NB) === 0;
}

export function unlock(fd: number): void {
  lib().symbols.flock(fd, LOCK_UN);
}
