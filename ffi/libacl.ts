// bun:ffi bindings to libacl (POSIX.1e draft ACLs on Linux): set and read the access ACL of an
// open file or directory. Bindings only: which ACL a file should carry, and what to do when the
// filesystem has none, is src/agent/storage/acl.ts's business.
//
// Why libacl through FFI rather than running setfacl(1): the calls take a file descriptor
// (acl_set_fd/acl_get_fd), so the ACL lands on the very directory or file tbot opened and checked
// without following links; setfacl takes a path, which is resolved again (a race with whoever can
// rename things in the path) and means a process per file on every write. libacl.so.1 is the
// library setfacl itself uses and is present wherever the `acl` package is.

import { CString, dlopen, FFIType, type Pointer, read } from "bun:ffi";
import { constants as osConstants } from "node:os";
import { libraryDirs, locateLibrary } from "./locate.ts";

const { i32, i8, ptr } = FFIType;

const aclSymbols = {
  acl_from_text: { args: [ptr], returns: ptr },
  acl_set_fd: { args: [i32, ptr], returns: i32 },
  acl_get_fd: { args: [i32], returns: ptr },
  // (acl, prefix, separator, options)
  acl_to_any_text: { args: [ptr, ptr, i8, i32], returns: ptr },
  acl_free: { args: [ptr], returns: i32 },
} as const;

const libcSymbols = { __errno_location: { args: [], returns: ptr } } as const;

/** acl_to_any_text option: "user:1001:r--" rather than the name getpwuid would give. */
const TEXT_NUMERIC_IDS = 0x08;

let acl: ReturnType<typeof dlopen<typeof aclSymbols>>["symbols"] | null = null;
let libc: ReturnType<typeof dlopen<typeof libcSymbols>>["symbols"] | null = null;

/**
 * Where libacl.so.1 is looked for. TBOT_LIBACL_DIR, when set, is the only directory (an operator
 * who names one means it, and a test can make the library absent honestly).
 */
export function libaclDirs(env: Record<string, string | undefined> = process.env): string[] {
  return libraryDirs({ TSS2_LIBDIR: env.TBOT_LIBACL_DIR, LD_LIBRARY_PATH: env.LD_LIBRARY_PATH });
}

/** Load libacl (once). Throws LibraryNotFound (ffi/locate.ts) when it is not installed. */
function lib() {
  if (!acl) {
    const path = locateLibrary("libacl.so.1", libaclDirs());
    acl = dlopen(path, aclSymbols).symbols;
  }
  return acl;
}

function errno(): number {
  libc ??= dlopen("libc.so.6", libcSymbols).symbols;
  const p = libc.__errno_location();
  return p ? read.i32(p) : 0;
}

const errnoNames = new Map<number, string>(
  Object.entries(osConstants.errno).map(([name, n]) => [n as number, name]),
);

/** A failed libacl call, with errno's name ("EOPNOTSUPP", "EPERM") as `code`. */
export class AclCallError extends Error {
  readonly code: string;
  constructor(
    readonly call: string,
    readonly errno: number,
  ) {
    const code = errnoNames.get(errno) ?? `errno ${errno}`;
    super(`${call}: ${code}`);
    this.code = code;
  }
}

/** Whether libacl can be loaded; the LibraryNotFound error when it cannot. */
export function libaclError(): Error | null {
  try {
    lib();
    return null;
  } catch (e) {
    return e as Error;
  }
}

/** Replace the access ACL of the open file or directory `fd` with `text` (acl_from_text syntax). */
export function setFdAcl(fd: number, text: string): void {
  const l = lib();
  const a = l.acl_from_text(Buffer.from(`${text}\0`));
  if (!a) throw new AclCallError("acl_from_text", errno());
  try {
    if (l.acl_set_fd(fd, a) !== 0) throw new AclCallError("acl_set_fd", errno());
  } finally {
    l.acl_free(a);
  }
}

/** The access ACL of `fd` as "user::rw-,user:1001:r--,…" (numeric IDs, comma-separated). */
export function getFdAcl(fd: number): string {
  const l = lib();
  const a = l.acl_get_fd(fd);
  if (!a) throw new AclCallError("acl_get_fd", errno());
  try {
    const t = l.acl_to_any_text(a, null, 44, TEXT_NUMERIC_IDS);
    if (!t) throw new AclCallError("acl_to_any_text", errno());
    try {
      return new CString(t as Pointer).toString();
    } finally {
      l.acl_free(t);
    }
  } finally {
    l.acl_free(a);
  }
}
