// Environment variables that native libraries can see. Bun keeps process.env in its own
// table: assigning to it does not reach libc's environ, so getenv(3) inside libtss2 would
// never see the value. setenv(3) through FFI does.

import { dlopen, FFIType } from "bun:ffi";

type Libc = { symbols: { setenv(name: Uint8Array, value: Uint8Array, overwrite: number): number } };
let libc: Libc | null = null;

/** A C string: UTF-8 bytes with the terminating NUL that bun:ffi does not add. */
export function cString(s: string): Uint8Array {
  return new TextEncoder().encode(`${s}\0`);
}

/**
 * setenv(3) for native code (and process.env too, so both agree). libc.so.6 is already mapped
 * into every glibc process, so dlopen returns that copy without searching any directory.
 */
export function setNativeEnv(name: string, value: string): void {
  libc ??= dlopen("libc.so.6", {
    setenv: { args: [FFIType.ptr, FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
  }) as unknown as Libc;
  if (libc.symbols.setenv(cString(name), cString(value), 1) !== 0) throw new Error(`setenv(${name}) failed`);
  process.env[name] = value;
}
