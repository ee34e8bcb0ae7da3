// The `unix` workload attestor: who is at the other end of a Workload API connection.
// The kernel's SO_PEERCRED (pid, uid, gid at connect()) read from the accepted socket's fd with
// getsockopt through bun:ffi (ffi/peercred.ts). The binary path (readlink /proc/<pid>/exe) and
// its SHA-256 (read through /proc/<pid>/exe, so the inode the process runs, even if the path was
// replaced since) are computed only when a rule asks, once per connection.
// PID reuse: the process start time (/proc/<pid>/stat field 22) is recorded at accept; every
// call checks it again after its attributes were used, so a pid recycled by another process is
// refused rather than attested as the first one.

import { createHash } from "node:crypto";
import { createReadStream, readFileSync, readlinkSync } from "node:fs";
import type { Socket } from "node:net";
import { peerCred } from "../../../ffi/peercred.ts";

export interface UnixAttributes {
  attested: true;
  pid: number;
  uid: number;
  gid: number;
  /** readlink(/proc/<pid>/exe); undefined when the process is gone or not readable. */
  binaryPath(): Promise<string | undefined>;
  /** Hex SHA-256 of the process's executable; undefined when unreadable. */
  binaryHash(): Promise<string | undefined>;
}

export interface WorkloadAttributes {
  unix: UnixAttributes;
}

/** The attribute names rules and templates use, as the reference names them. */
export const UNIX_ATTRIBUTE_NAMES = [
  "workload.unix.attested",
  "workload.unix.pid",
  "workload.unix.uid",
  "workload.unix.gid",
  "workload.unix.binary_path",
  "workload.unix.binary_hash",
] as const;
export type AttributeName = (typeof UNIX_ATTRIBUTE_NAMES)[number];

/** One attribute's value; undefined when unknown. binary_* are computed on first use. */
export async function attribute(
  attrs: WorkloadAttributes,
  name: string,
): Promise<string | number | boolean | undefined> {
  const u = attrs.unix;
  switch (name) {
    case "workload.unix.attested":
      return u.attested;
    case "workload.unix.pid":
      return u.pid;
    case "workload.unix.uid":
      return u.uid;
    case "workload.unix.gid":
      return u.gid;
    case "workload.unix.binary_path":
      return u.binaryPath();
    case "workload.unix.binary_hash":
      return u.binaryHash();
    default:
      return undefined;
  }
}

/** The fd of an accepted node:net socket on Bun 1.4.5 (`_handle.fd`); throws when absent. */
export function socketFd(sock: Socket): number {
  const fd = (sock as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== "number" || !Number.isInteger(fd) || fd < 0) {
    throw new Error("the accepted socket exposes no file descriptor");
  }
  return fd;
}

/** Start time of `pid` in clock ticks since boot, or undefined when the process is gone. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    // The command name (field 2) may hold spaces and parentheses: count from the last ")".
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return rest[19]; // field 22 overall; `rest` starts at field 3
  } catch {
    return undefined;
  }
}

function sha256File(path: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const h = createHash("sha256");
    const s = createReadStream(path);
    s.on("data", (c) => h.update(c));
    s.on("end", () => resolve(h.digest("hex")));
    s.on("error", () => resolve(undefined));
  });
}

export interface AttestedPeer {
  attrs: WorkloadAttributes;
  /** False once the pid no longer names the process that connected. */
  stillSameProcess(): boolean;
}

/** Attests the peer of an accepted Unix socket connection. */
export function attestUnixSocket(sock: Socket): AttestedPeer {
  const cred = peerCred(socketFd(sock));
  if (cred.pid <= 0) throw new Error("the peer has no pid (another pid namespace?)");
  return attestCredentials(cred);
}

/** Attributes for known credentials (also the unit tests' entry). */
export function attestCredentials(cred: { pid: number; uid: number; gid: number }): AttestedPeer {
  const start = processStartTime(cred.pid);
  let path: Promise<string | undefined> | undefined;
  let hash: Promise<string | undefined> | undefined;
  const unix: UnixAttributes = {
    attested: true,
    pid: cred.pid,
    uid: cred.uid,
    gid: cred.gid,
    binaryPath() {
      path ??= Promise.resolve().then(() => {
        try {
          return readlinkSync(`/proc/${cred.pid}/exe`);
        } catch {
          return undefined;
        }
      });
      return path;
    },
    binaryHash() {
      hash ??= sha256File(`/proc/${cred.pid}/exe`);
      return hash;
    },
  };
  return {
    attrs: { unix },
    stillSameProcess: () => start !== undefined && processStartTime(cred.pid) === start,
  };
}
