// A directory store. Each set of files is written into a fresh hidden generation directory,
// fsynced, and published by atomically renaming a symlink "..<set>" to point at it; the
// visible names are stable symlinks into "..<set>/". This is the Kubernetes atomic-writer
// scheme: at every instant the directory shows one complete set, and kill -9 at any moment
// leaves either the old set or the new one. Directories are 0700 and files 0600.

import {
  closeSync,
  existsSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { UserError } from "../../util/errors.ts";
import { tryLockExclusive, unlock } from "./flock.ts";
import type { Store } from "./store.ts";

// Letters only, so one set's generation prefix ("..identity_") never matches another's.
const SET_NAME = /^[a-z]+$/;

function writeFileSynced(path: string, data: string): void {
  const fd = openSync(path, "wx", 0o600);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function fsyncDir(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Point `linkPath` at `target` atomically (symlink under a temp name, then rename over). */
function replaceSymlink(dir: string, linkName: string, target: string): void {
  const tmp = join(dir, `.${linkName}.tmp-${process.pid}`);
  rmSync(tmp, { force: true });
  symlinkSync(target, tmp);
  renameSync(tmp, join(dir, linkName));
}

export class DirectoryStore implements Store {
  readonly description: string;
  constructor(readonly path: string) {
    this.description = `directory ${path}`;
  }

  async init(): Promise<void> {
    try {
      mkdirSync(this.path, { recursive: true, mode: 0o700 });
      const probe = join(this.path, ".write-test");
      rmSync(probe, { force: true });
      writeFileSynced(probe, "");
      unlinkSync(probe);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new UserError(
        `${this.path} is not writable (${code ?? (e as Error).message})${code === "EACCES" ? "; run tbot as a user that owns it, or choose another path" : ""}`,
      );
    }
  }

  async read(name: string): Promise<string | null> {
    try {
      return readFileSync(join(this.path, name), "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw e;
    }
  }

  async writeSet(setName: string, files: Record<string, string>): Promise<void> {
    if (!SET_NAME.test(setName)) throw new Error(`bad set name ${setName}`);
    const link = `..${setName}`;
    const genName = `..${setName}_${Date.now()}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    const genDir = join(this.path, genName);
    mkdirSync(genDir, { mode: 0o700 });
    for (const [name, data] of Object.entries(files)) {
      if (name.includes("/") || name.startsWith(".")) throw new Error(`bad file name ${name}`);
      writeFileSynced(join(genDir, name), data);
    }
    fsyncDir(genDir);
    let previous: string | null = null;
    try {
      previous = readlinkSync(join(this.path, link));
    } catch {}
    replaceSymlink(this.path, link, genName);
    // Stable names: DIR/<file> -> ..<set>/<file>. Created once; a plain file left by another
    // writer is replaced by the symlink atomically.
    for (const name of Object.keys(files)) {
      const p = join(this.path, name);
      const want = `${link}/${name}`;
      let ok = false;
      try {
        ok = lstatSync(p).isSymbolicLink() && readlinkSync(p) === want;
      } catch {}
      if (!ok) replaceSymlink(this.path, name, want);
    }
    fsyncDir(this.path);
    if (previous && previous !== genName && previous.startsWith(`..${setName}_`))
      rmSync(join(this.path, previous), { recursive: true, force: true });
    this.removeOrphans(setName, genName);
  }

  /** Generation directories left behind by a crash between publish and cleanup. */
  private removeOrphans(setName: string, current: string): void {
    for (const e of readdirSync(this.path)) {
      if (e.startsWith(`..${setName}_`) && e !== current)
        rmSync(join(this.path, e), { recursive: true, force: true });
    }
  }

  async lock(): Promise<() => void> {
    const path = join(this.path, "lock");
    const fd = openSync(path, existsSync(path) ? "r+" : "w+", 0o600);
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
