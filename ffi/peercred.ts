// getsockopt(2) SO_PEERCRED through bun:ffi: the pid, uid and gid the kernel recorded for the
// process at the other end of a connected Unix socket (the credentials at its connect()).
// Bindings only; src/agent/workload-api/attest-unix.ts turns them into workload attributes.

import { dlopen, FFIType, ptr } from "bun:ffi";

const symbols = {
  getsockopt: {
    args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.ptr],
    returns: FFIType.i32,
  },
} as const;

let libc: ReturnType<typeof dlopen<typeof symbols>>["symbols"] | null = null;
function lib() {
  libc ??= dlopen("libc.so.6", symbols).symbols;
  return libc;
}

// Linux: SOL_SOCKET = 1, SO_PEERCRED = 17; struct ucred { pid_t pid; uid_t uid; gid_t gid; }.
const SOL_SOCKET = 1;
const SO_PEERCRED = 17;
const UCRED_SIZE = 12;

export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
}

/** SO_PEERCRED of connected Unix socket `fd`; throws when the call fails. */
export function peerCred(fd: number): PeerCred {
  const buf = new Uint8Array(UCRED_SIZE);
  const len = new Uint32Array([UCRED_SIZE]);
  const rc = lib().getsockopt(fd, SOL_SOCKET, SO_PEERCRED, ptr(buf), ptr(len));
  if (rc !== 0 || len[0] !== UCRED_SIZE) throw new Error(`getsockopt(SO_PEERCRED) failed on fd ${fd}`);
  const dv = new DataView(buf.buffer);
  return { pid: dv.getInt32(0, true), uid: dv.getUint32(4, true), gid: dv.getUint32(8, true) };
}
