// getpwnam(3)/getgrnam(3) through bun:ffi: a user or group name to its numeric ID the way every
// other program on the host sees it (NSS: /etc/passwd, and LDAP or sssd where configured).
// Bindings only; src/agent/storage/acl.ts decides what an unknown name means.

import { dlopen, FFIType, read } from "bun:ffi";

const symbols = {
  getpwnam: { args: [FFIType.ptr], returns: FFIType.ptr },
  getgrnam: { args: [FFIType.ptr], returns: FFIType.ptr },
} as const;

let libc: ReturnType<typeof dlopen<typeof symbols>>["symbols"] | null = null;
function lib() {
  libc ??= dlopen("libc.so.6", symbols).symbols;
  return libc;
}

// glibc on 64-bit Linux: struct passwd { char *pw_name; char *pw_passwd; uid_t pw_uid; … } and
// struct group { char *gr_name; char *gr_passwd; gid_t gr_gid; … }: the ID is at offset 16.
const ID_OFFSET = 16;

/** The uid of user `name`, or null when the host does not know it. */
export function lookupUid(name: string): number | null {
  const p = lib().getpwnam(Buffer.from(`${name}\0`));
  return p ? read.u32(p, ID_OFFSET) : null;
}

/** The gid of group `name`, or null when the host does not know it. */
export function lookupGid(name: string): number | null {
  const p = lib().getgrnam(Buffer.from(`${name}\0`));
  return p ? read.u32(p, ID_OFFSET) : null;
}
