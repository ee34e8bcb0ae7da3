// Opening a store's directory the way OpenSSH's StrictModes checks a home directory: the path
// is resolved one component at a time with O_NOFOLLOW (the userspace equivalent of openat2's
// RESOLVE_NO_SYMLINKS, on every kernel), each parent must not be writable by others unless it is
// sticky (as /tmp is), and the directory itself must belong to tbot's user (or root) and be
// writable by nobody else. Everything tbot then does in the store is relative to the returned
// descriptor, so the directory it checked is the directory it writes.

import { closeSync, fstatSync, mkdirSync, readFileSync, realpathSync } from "node:fs";
import { join, normalize, resolve } from "node:path";
import { UserError } from "../../util/errors.ts";
import { logger } from "../../util/log.ts";
import {
  AT_FDCWD,
  errorCode,
  hasOpenat2,
  mkdirat,
  O_DIRECTORY,
  O_NOFOLLOW,
  O_RDONLY,
  openat,
  openat2,
  RESOLVE_NO_SYMLINKS,
  readlinkat,
} from "./fsat.ts";

const log = logger("TBOT:STORAGE");

/** The reference's `symlinks` option (§1.4, §8.6). */
export type SymlinkMode = "secure" | "try-secure" | "insecure";

export interface DirOptions {
  /** For messages: "storage", "destination" or "directory". */
  label: string;
  symlinks: SymlinkMode;
  /** Create missing components (mode 0700) instead of failing with ENOENT. */
  create: boolean;
}

export interface OpenedDir {
  fd: number;
  /** tbot made the directory itself just now. */
  created: boolean;
}

/** O_PATH: a handle to walk through, which needs search (x) but not read permission. */
const O_PATH = 0o10000000;
const S_ISVTX = 0o1000;

function userName(uid: number): string {
  try {
    for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
      const f = line.split(":");
      if (f.length > 2 && Number(f[2]) === uid && f[2] !== "") return `${f[0]} (uid ${uid})`;
    }
  } catch {}
  return `uid ${uid}`;
}

const octal = (mode: number) => `0${(mode & 0o7777).toString(8).padStart(3, "0")}`;

export function currentUid(): number {
  return process.geteuid?.() ?? 0;
}

/**
 * The directory itself: owned by tbot's user or root, and writable by nobody else. Anyone who
 * can write it can plant or swap the links and generation directories tbot manages there.
 */
export function checkOwnDirectory(fd: number, label: string, shown: string): void {
  const st = fstatSync(fd);
  if (!st.isDirectory()) throw new UserError(`${label} ${shown} is not a directory`);
  const me = currentUid();
  if (st.uid !== me && st.uid !== 0)
    throw new UserError(
      `${label} ${shown} is owned by ${userName(st.uid)}, not by tbot's user ${userName(me)}; another user's directory can hold links that redirect tbot's writes: remove it and let tbot create it, or run "chown ${me} ${shown} && chmod 0700 ${shown}" after checking its contents`,
    );
  if (st.mode & 0o022)
    throw new UserError(
      `${label} ${shown} is writable by group or others (mode ${octal(st.mode)}); run "chmod 0700 ${shown}" or choose a directory only tbot's user can write`,
    );
}

/** An ancestor writable by others (and not sticky) lets them swap the directory under tbot. */
function checkParent(fd: number, here: string, label: string, shown: string): void {
  const st = fstatSync(fd);
  if (st.mode & 0o022 && !(st.mode & S_ISVTX))
    throw new UserError(
      `${label} ${shown}: its parent directory ${here} is writable by group or others (mode ${octal(st.mode)}) without the sticky bit, so another user could replace the directory; run "chmod go-w ${here}" or choose another place`,
    );
}

function refuseLink(o: DirOptions, shown: string, at: string, target: string): never {
  const self = at === shown ? `${shown} is a symbolic link` : `${shown}: ${at} is a symbolic link`;
  throw new UserError(
    `${o.label} ${self} (to ${target}) and tbot does not follow links in this path (symlinks: ${o.symlinks}); use the real path, or set "symlinks: insecure" on this ${o.label === "storage" ? "storage" : "destination"} in tbot.yaml to follow it`,
  );
}

let warnedNoOpenat2 = false;

/**
 * How each path component is opened. `secure`: openat2 with RESOLVE_NO_SYMLINKS, and an error
 * where the kernel lacks it (< 5.6, or a seccomp filter refusing it), as the reference says.
 * `try-secure`: openat2 where there is one, else openat with O_NOFOLLOW (one warning): one
 * component at a time both refuse a link the same way, so the fallback loses nothing.
 * `insecure`: openat with O_NOFOLLOW on the path realpath gave.
 */
function componentOpener(o: DirOptions, shown: string): (fd: number, name: string, flags: number) => number {
  const plain = (fd: number, name: string, flags: number) => openat(fd, name, flags);
  if (o.symlinks === "insecure") return plain;
  if (hasOpenat2()) return (fd, name, flags) => openat2(fd, name, flags, RESOLVE_NO_SYMLINKS);
  if (o.symlinks === "secure")
    throw new UserError(
      `${o.label} ${shown}: symlinks: secure needs openat2(2) with RESOLVE_NO_SYMLINKS (Linux 5.6 or later), which this system does not provide; set "symlinks: try-secure" (links are then refused by an O_NOFOLLOW walk) or "symlinks: insecure"`,
    );
  if (!warnedNoOpenat2) {
    warnedNoOpenat2 = true;
    log.warn(
      "openat2 is not available; refusing symbolic links with an O_NOFOLLOW walk instead (symlinks: try-secure)",
      {
        path: shown,
      },
    );
  }
  return plain;
}

/** Walk `path` (absolute, without links) from "/", checking each parent; the final directory is opened O_RDONLY. */
function walk(path: string, o: DirOptions, shown: string): OpenedDir {
  const open = componentOpener(o, shown);
  const parts = path.split("/").filter(Boolean);
  let fd = openat(AT_FDCWD, "/", O_PATH | O_DIRECTORY);
  let here = "/";
  let created = false;
  try {
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      const last = i === parts.length - 1;
      const at = join(here, part);
      checkParent(fd, here, o.label, shown);
      const flags = (last ? O_RDONLY : O_PATH) | O_DIRECTORY | O_NOFOLLOW;
      let next: number;
      try {
        next = open(fd, part, flags);
      } catch (e) {
        const code = errorCode(e);
        if (code === "ENOENT" && o.create) {
          try {
            mkdirat(fd, part, 0o700);
            created = last;
          } catch (e2) {
            if (errorCode(e2) !== "EEXIST") throw e2;
          }
          try {
            next = open(fd, part, flags);
          } catch (e3) {
            const link =
              errorCode(e3) === "ELOOP" || errorCode(e3) === "ENOTDIR" ? readlinkat(fd, part) : null;
            if (link !== null) refuseLink(o, shown, at, link);
            throw e3;
          }
        } else {
          const link = code === "ELOOP" || code === "ENOTDIR" ? readlinkat(fd, part) : null;
          if (link !== null) refuseLink(o, shown, at, link);
          throw e;
        }
      }
      closeSync(fd);
      fd = next;
      here = at;
    }
    if (parts.length === 0) {
      const root = openat(AT_FDCWD, "/", O_RDONLY | O_DIRECTORY);
      closeSync(fd);
      fd = root;
    }
    // A directory tbot just made is 0700 and its own; anything else is checked.
    if (!created) checkOwnDirectory(fd, o.label, shown);
    return { fd, created };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/**
 * Open (and with `create`, make) a store directory per the `symlinks` mode: `secure` and
 * `try-secure` refuse a symlink anywhere in the path (componentOpener: openat2's
 * RESOLVE_NO_SYMLINKS, or for try-secure without it an O_NOFOLLOW walk); `insecure` follows
 * links, then checks the directory it arrived at like any other.
 */
export function openStoreDir(path: string, o: DirOptions): OpenedDir {
  const shown = path;
  const abs = normalize(resolve(path));
  if (o.symlinks !== "insecure") return walk(abs, o, shown);
  let made = false;
  if (o.create) made = mkdirSync(abs, { recursive: true, mode: 0o700 }) !== undefined;
  const real = realpathSync(abs);
  if (real !== abs)
    log.debug("Following symbolic links in the path (symlinks: insecure)", { path: abs, resolves_to: real });
  const r = walk(real, { ...o, create: false }, shown);
  return { fd: r.fd, created: made };
}
