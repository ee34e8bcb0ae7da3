// A directory store. Each set of files is written into a fresh hidden generation directory,
// fsynced, and published by atomically renaming a symlink "..<set>" to point at it; the
// visible names are stable symlinks into "..<set>/". This is the Kubernetes atomic-writer
// scheme: at every instant the directory shows one complete set, and kill -9 at any moment
// leaves either the old set or the new one. Directories are 0700 and files 0600.
//
// Nothing here trusts a name it did not make. The directory is opened and checked (safe-dir.ts)
// before every operation, and every name inside it is created, read, replaced and removed
// relative to that descriptor without following links (fsat.ts). Old generations are found by
// listing the directory, never by reading the "..<set>" link: what a link says is not used to
// remove anything, so a link planted to "..identity_x/../../victim" removes nothing.

import { closeSync, fstatSync, fsyncSync, readFileSync, writeSync } from "node:fs";
import { UserError } from "../../util/errors.ts";
import { logger } from "../../util/log.ts";
import type { AclPolicy } from "./acl.ts";
import { tryLockExclusive, unlock } from "./flock.ts";
import {
  AT_REMOVEDIR,
  errorCode,
  listDir,
  mkdirat,
  O_CREAT,
  O_EXCL,
  O_NOFOLLOW,
  O_RDONLY,
  O_RDWR,
  O_WRONLY,
  openat,
  openDirAt,
  readlinkat,
  renameat,
  symlinkat,
  unlinkat,
} from "./fsat.ts";
import { openStoreDir, type SymlinkMode } from "./safe-dir.ts";
import type { Store } from "./store.ts";

const log = logger("TBOT:STORAGE");

// Letters only, so one set's generation prefix ("..identity_") never matches another's.
const SET_NAME = /^[a-z]+$/;
// What a generation directory of `set` is called: "..<set>_" and letters, digits or "_" (older
// builds joined their parts with "_"). No "/", no "." after the prefix: always a direct child.
const generationName = (set: string) => new RegExp(`^\\.\\.${set}_[A-Za-z0-9_]+$`);

function newGenerationName(set: string): string {
  const rand = Buffer.from(crypto.getRandomValues(new Uint8Array(6))).toString("hex");
  return `..${set}_${Date.now().toString(36)}${process.pid.toString(36)}${rand}`;
}

function checkFileName(name: string): void {
  if (!name || name.includes("/") || name.includes("\0") || name.startsWith("."))
    throw new Error(`bad file name ${name}`);
}

/**
 * Create `name` in `dirFd` (never through a link, never over an existing entry), write, fsync.
 * `prepare` sees the new, still empty file first (its ACL is set there, on the descriptor).
 */
function writeNew(dirFd: number, name: string, data: string, prepare?: (fd: number) => void): void {
  const fd = openat(dirFd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
  try {
    prepare?.(fd);
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function unlinkIfPresent(dirFd: number, name: string): void {
  try {
    unlinkat(dirFd, name);
  } catch (e) {
    if (errorCode(e) !== "ENOENT") throw e;
  }
}

/** Point `linkName` at `target` atomically (symlink under a temp name, then rename over). */
function replaceSymlink(dirFd: number, linkName: string, target: string): void {
  const tmp = `.${linkName}.tmp-${process.pid}`;
  unlinkIfPresent(dirFd, tmp);
  symlinkat(target, dirFd, tmp);
  renameat(dirFd, tmp, linkName);
}

/**
 * Remove the entry `name` of `parentFd`: a file or a link is unlinked (a link to a directory
 * elsewhere loses the link only); a directory is emptied through its own descriptor first.
 */
function removeEntry(parentFd: number, name: string, depth = 0): void {
  try {
    unlinkat(parentFd, name);
    return;
  } catch (e) {
    const code = errorCode(e);
    if (code === "ENOENT") return;
    if (code !== "EISDIR" && code !== "EPERM") throw e;
  }
  if (depth > 16) throw new Error(`refusing to remove ${name}: nested too deep`);
  let fd: number;
  try {
    fd = openDirAt(parentFd, name);
  } catch (e) {
    // Replaced by a link or a file in the meantime: remove that instead, without following.
    if (errorCode(e) === "ELOOP" || errorCode(e) === "ENOTDIR") {
      unlinkIfPresent(parentFd, name);
      return;
    }
    if (errorCode(e) === "ENOENT") return;
    throw e;
  }
  try {
    for (const e of listDir(fd)) removeEntry(fd, e, depth + 1);
  } finally {
    closeSync(fd);
  }
  try {
    unlinkat(parentFd, name, AT_REMOVEDIR);
  } catch (e) {
    if (errorCode(e) !== "ENOENT") throw e;
  }
}

function readFd(fd: number): string {
  try {
    if (!fstatSync(fd).isFile()) throw new Error("not a regular file");
    return readFileSync(fd, "utf8");
  } finally {
    closeSync(fd);
  }
}

export interface DirectoryStoreOptions {
  /** The reference's `symlinks` option for this path; default "try-secure". */
  symlinks?: SymlinkMode;
  /** For messages: "storage" or "destination"; default "directory". */
  label?: string;
  /** POSIX ACLs for the destination's readers (acl.ts); none when absent. */
  acl?: AclPolicy;
}

export class DirectoryStore implements Store {
  readonly description: string;
  private readonly symlinks: SymlinkMode;
  private readonly label: string;
  private readonly acl: AclPolicy | undefined;
  constructor(
    readonly path: string,
    opts: DirectoryStoreOptions = {},
  ) {
    this.description = `directory ${path}`;
    this.symlinks = opts.symlinks ?? "try-secure";
    this.label = opts.label ?? "directory";
    this.acl = opts.acl;
  }

  /** The directory itself carries the readers' ACL (they need x on it): checked, fixed if not. */
  private applyDirAcl(dirFd: number): void {
    this.acl?.apply({ fd: dirFd, isDir: true, shown: this.path }, true);
  }

  /** The store's directory, opened and checked now; the caller closes it. */
  private open(create = true): number {
    return openStoreDir(this.path, { label: this.label, symlinks: this.symlinks, create }).fd;
  }

  private withDir<T>(f: (fd: number) => T, create = true): T {
    const fd = this.open(create);
    try {
      return f(fd);
    } finally {
      closeSync(fd);
    }
  }

  async init(): Promise<void> {
    try {
      this.withDir((fd) => {
        const probe = ".write-test";
        unlinkIfPresent(fd, probe);
        writeNew(fd, probe, "");
        unlinkat(fd, probe);
        this.applyDirAcl(fd);
      });
    } catch (e) {
      if (e instanceof UserError) throw e;
      const code = errorCode(e);
      throw new UserError(
        `${this.path} is not writable (${code ?? (e as Error).message})${code === "EACCES" ? "; run tbot as a user that owns it, or choose another path" : ""}`,
      );
    }
  }

  async read(name: string): Promise<string | null> {
    checkFileName(name);
    let dirFd: number;
    try {
      dirFd = this.open(false);
    } catch (e) {
      if (errorCode(e) === "ENOENT") return null;
      throw e;
    }
    try {
      return this.readIn(dirFd, name);
    } finally {
      closeSync(dirFd);
    }
  }

  /** `name` as a plain file (an older writer's), or through exactly the links writeSet makes. */
  private readIn(dirFd: number, name: string): string | null {
    try {
      return readFd(openat(dirFd, name, O_RDONLY | O_NOFOLLOW));
    } catch (e) {
      const code = errorCode(e);
      if (code === "ENOENT") return null;
      if (code !== "ELOOP") throw e;
    }
    const target = readlinkat(dirFd, name);
    if (target === null) return null;
    const m = /^\.\.([a-z]+)\/([^/]+)$/.exec(target);
    const gen = m && m[2] === name ? readlinkat(dirFd, `..${m[1]}`) : null;
    if (!m || m[2] !== name || (gen !== null && !generationName(m[1]!).test(gen)))
      throw new UserError(
        `${this.label} ${this.path}: ${name} is a link tbot did not make (to ${gen !== null && m ? `..${m[1]} -> ${gen}` : target}); remove it`,
      );
    if (gen === null) return null;
    let genFd: number;
    try {
      genFd = openDirAt(dirFd, gen);
    } catch (e) {
      if (errorCode(e) === "ENOENT") return null;
      throw e;
    }
    try {
      return readFd(openat(genFd, name, O_RDONLY | O_NOFOLLOW));
    } catch (e) {
      if (errorCode(e) === "ENOENT") return null;
      throw e;
    } finally {
      closeSync(genFd);
    }
  }

  async writeSet(setName: string, files: Record<string, string>): Promise<void> {
    if (!SET_NAME.test(setName)) throw new Error(`bad set name ${setName}`);
    for (const name of Object.keys(files)) checkFileName(name);
    this.withDir((dirFd) => {
      const link = `..${setName}`;
      this.applyDirAcl(dirFd);
      const genName = newGenerationName(setName);
      mkdirat(dirFd, genName, 0o700);
      try {
        const genFd = openDirAt(dirFd, genName);
        try {
          // The readers' ACL on the generation and each file before anything is published; with
          // acls: required a failure stops here, the previous set still in place.
          const shown = `${this.path}/${genName}`;
          this.acl?.apply({ fd: genFd, isDir: true, shown });
          for (const [name, data] of Object.entries(files))
            writeNew(genFd, name, data, (fd) =>
              this.acl?.apply({ fd, isDir: false, shown: `${shown}/${name}` }),
            );
          fsyncSync(genFd);
        } finally {
          closeSync(genFd);
        }
      } catch (e) {
        removeEntry(dirFd, genName);
        throw e;
      }
      // Stable names: DIR/<file> -> ..<set>/<file>. Created once, and before the switch: a name
      // new to the set resolves nowhere until ..<set> appears, so a reader (or a crash) never
      // sees a published set with names missing. A plain file left by another writer (or
      // anything else under that name but a directory) is replaced atomically.
      for (const name of Object.keys(files)) {
        const want = `${link}/${name}`;
        if (readlinkat(dirFd, name) !== want) replaceSymlink(dirFd, name, want);
      }
      const previous = readlinkat(dirFd, link);
      replaceSymlink(dirFd, link, genName);
      fsyncSync(dirFd);
      if (previous !== null && previous !== genName && !generationName(setName).test(previous))
        log.warn("Replaced a link tbot did not make; removed nothing it pointed at", {
          path: `${this.path}/${link}`,
          target: previous,
        });
      this.removeStaleNames(dirFd, link, files);
      this.removeGenerations(dirFd, setName, genName);
    });
  }

  /**
   * Names the previous set had and this one has not (a database output whose format changed,
   * specific_tls_naming turned off): their links now point at nothing. Only a link this set
   * made, exactly "..<set>/<its own name>", is removed; anything else under a name is left.
   */
  private removeStaleNames(dirFd: number, link: string, files: Record<string, string>): void {
    for (const e of listDir(dirFd))
      if (!Object.hasOwn(files, e) && readlinkat(dirFd, e) === `${link}/${e}`) unlinkIfPresent(dirFd, e);
  }

  async removeSet(setName: string, names: string[]): Promise<void> {
    if (!SET_NAME.test(setName)) throw new Error(`bad set name ${setName}`);
    for (const name of names) checkFileName(name);
    this.withDir((dirFd) => {
      const link = `..${setName}`;
      // Only the links this set made: a name pointing anywhere else is not ours to remove.
      for (const name of names)
        if (readlinkat(dirFd, name) === `${link}/${name}`) unlinkIfPresent(dirFd, name);
      // No fsync: a removal undone by a power cut leaves the old set, which is harmless.
      if (readlinkat(dirFd, link) !== null) unlinkIfPresent(dirFd, link);
      this.removeGenerations(dirFd, setName, "");
    });
  }

  /** Every other generation directory of the set: the previous one and any a crash left behind. */
  private removeGenerations(dirFd: number, setName: string, current: string): void {
    const isGeneration = generationName(setName);
    for (const e of listDir(dirFd)) if (e !== current && isGeneration.test(e)) removeEntry(dirFd, e);
  }

  async lock(): Promise<() => void> {
    const path = `${this.path}/lock`;
    const fd = this.withDir((dirFd) => {
      let lockFd: number;
      try {
        lockFd = openat(dirFd, "lock", O_RDWR | O_CREAT | O_NOFOLLOW, 0o600);
      } catch (e) {
        if (errorCode(e) === "ELOOP")
          throw new UserError(
            `${this.label} ${this.path}: its lock file ${path} is a symbolic link (to ${readlinkat(dirFd, "lock")}); tbot opens its lock file without following links: remove ${path}`,
          );
        throw e;
      }
      if (!fstatSync(lockFd).isFile()) {
        closeSync(lockFd);
        throw new UserError(
          `${this.label} ${this.path}: its lock file ${path} is not a regular file; remove it`,
        );
      }
      return lockFd;
    });
    if (!tryLockExclusive(fd)) {
      closeSync(fd);
      throw new UserError(
        `storage ${this.path} is in use by another tbot process (lock file ${path}); each tbot needs its own storage directory`,
      );
    }
    return () => {
      unlock(fd);
      closeSync(fd);
    };
  }
}
