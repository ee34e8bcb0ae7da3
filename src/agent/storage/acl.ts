// `readers` by POSIX ACL (reference §1.4, §8.6). For a destination with readers, every directory
// and file tbot writes there carries exactly
//   user::rw- (dirs rwx), group::---, other::---, mask::r-- (dirs r-x)
//   user:<uid>:r-- / group:<gid>:r-- (dirs r-x) for each reader
// so the readers can traverse and read, and nobody else gains anything. Set through libacl on the
// descriptors the store already opened and checked (ffi/libacl.ts says why not setfacl), on the
// new generation directory and its files before the switch, and checked (and corrected) on the
// destination directory itself on every write.
//
// `acls`: "try" (default) sets them and, where it cannot (no ACL support in the filesystem,
// libacl absent, not the owner), warns once and writes without; "required" fails the write with
// one line naming the path and the reason; "off" never touches ACLs.

import { AclCallError, getFdAcl, setFdAcl } from "../../../ffi/libacl.ts";
import { LibraryNotFound } from "../../../ffi/locate.ts";
import { lookupGid, lookupUid } from "../../../ffi/nss.ts";
import { UserError } from "../../util/errors.ts";
import { logger } from "../../util/log.ts";
import type { DirectoryReader } from "../config/types.ts";

const log = logger("TBOT:STORAGE");

export type AclMode = "try" | "required" | "off";

export interface ResolvedReader {
  kind: "user" | "group";
  id: number;
  /** As configured, for messages: "reader1" or "1001". */
  name: string;
}

export interface IdLookup {
  uid(name: string): number | null;
  gid(name: string): number | null;
}

export const systemLookup: IdLookup = { uid: lookupUid, gid: lookupGid };

/** Largest valid ID: (uid_t)-1 means "no change" to the kernel and is never an owner. */
const MAX_ID = 0xfffffffe;

/** A reader's ID as written when it is one ("1001"), else null (a name to look up). */
export function numericId(s: string): number | null {
  if (!/^[0-9]+$/.test(s)) return null;
  const n = Number(s);
  return n <= MAX_ID ? n : null;
}

/**
 * Readers as numeric IDs: a number is taken as is (a container's users need not exist on the
 * host, as the reference allows), a name is looked up; an unknown name is a one-line UserError.
 */
export function resolveReaders(
  readers: readonly DirectoryReader[],
  where: string,
  lookup: IdLookup = systemLookup,
): ResolvedReader[] {
  return readers.map((r) => {
    const kind = "user" in r ? "user" : "group";
    const name = "user" in r ? r.user : r.group;
    const asNumber = numericId(name);
    if (asNumber !== null) return { kind, id: asNumber, name };
    if (/^[0-9]+$/.test(name))
      throw new UserError(`${where}: reader ${kind} ${name} is out of range (IDs go up to ${MAX_ID})`);
    const id = kind === "user" ? lookup.uid(name) : lookup.gid(name);
    if (id === null)
      throw new UserError(
        `${where}: reader ${kind} "${name}" does not exist on this host; create it, or give its numeric ${kind === "user" ? "uid" : "gid"}`,
      );
    return { kind, id, name };
  });
}

/** The ACL a file (r--) or a directory (r-x) of a destination with these readers carries. */
export function desiredAcl(readers: readonly ResolvedReader[], isDir: boolean): string {
  const read = isDir ? "r-x" : "r--";
  const entries = [`user::${isDir ? "rwx" : "rw-"}`];
  const seen = new Set<string>();
  for (const r of readers) {
    const e = `${r.kind}:${r.id}:${read}`;
    if (!seen.has(e)) entries.push(e);
    seen.add(e);
  }
  entries.push("group::---", `mask::${read}`, "other::---");
  return entries.join(",");
}

/** The same ACL whatever the order of entries or the separators ("," or newlines). */
export function sameAcl(a: string, b: string): boolean {
  const norm = (s: string) =>
    s
      .split(/[,\n]/)
      .map((e) => e.replace(/#.*$/, "").trim())
      .filter(Boolean)
      .sort()
      .join(",");
  return norm(a) === norm(b);
}

/** Why ACLs could not be set, in words an operator can act on. */
export function aclFailureReason(e: unknown): string {
  if (e instanceof LibraryNotFound)
    return `libacl.so.1 is not installed (looked in ${e.searched.join(":")}); install the acl library (Debian/Ubuntu: libacl1, RHEL/Fedora: libacl)`;
  const code = e instanceof AclCallError ? e.code : (e as NodeJS.ErrnoException)?.code;
  if (code === "EOPNOTSUPP" || code === "ENOTSUP")
    return `the filesystem does not support POSIX ACLs (${code}); mount it with ACL support or choose another path`;
  if (code === "EPERM")
    return "not permitted (EPERM): tbot's user must own the directory and its files to set their ACLs";
  return (e as Error)?.message ?? String(e);
}

export interface AclTarget {
  fd: number;
  isDir: boolean;
  /** The path shown in messages. */
  shown: string;
}

/** One destination's ACL policy: its mode, its resolved readers, and its warn-once memory. */
export class AclPolicy {
  private readonly warned = new Set<string>();
  constructor(
    readonly mode: AclMode,
    readonly readers: readonly ResolvedReader[],
    /** "destination /opt/machine-id", for messages. */
    private readonly what: string,
    private readonly set: (fd: number, text: string) => void = setFdAcl,
    private readonly get: (fd: number) => string = getFdAcl,
  ) {}

  /** Whether this destination's ACLs are managed at all. */
  get active(): boolean {
    return this.mode !== "off" && this.readers.length > 0;
  }

  /**
   * Give `t` the readers' ACL. `verify`: read it first and set only when it differs (the
   * destination directory, which lives across writes); a new directory or file is just set.
   * With "required" a failure throws and what is set is read back; with "try" it warns once.
   */
  apply(t: AclTarget, verify = false): void {
    if (!this.active) return;
    const want = desiredAcl(this.readers, t.isDir);
    try {
      if (verify && sameAcl(this.get(t.fd), want)) return;
      this.set(t.fd, want);
      if (this.mode === "required" && !sameAcl(this.get(t.fd), want))
        throw new Error(`the ACL read back is ${this.get(t.fd)}, not ${want}`);
    } catch (e) {
      const reason = aclFailureReason(e);
      if (this.mode === "required")
        throw new UserError(
          `${this.what}: acls: required, but the ACL of ${t.shown} cannot be set: ${reason}`,
        );
      if (!this.warned.has(reason)) {
        this.warned.add(reason);
        log.warn("Could not set POSIX ACLs for the readers; writing without them (acls: try)", {
          path: t.shown,
          reason,
        });
      }
    }
  }
}
