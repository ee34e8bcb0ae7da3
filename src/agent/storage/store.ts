// Where tbot keeps things: its own identity (storage) and the credentials it writes for
// other programs (outputs). Both are "stores" of named text files.

export interface Store {
  /** For messages: "directory /var/lib/teleport/bot" or "memory". */
  readonly description: string;
  /** Absolute path for directory stores (used in ssh_config), else undefined. */
  readonly path?: string;
  /** Create the place if needed and prove it is writable (the reference's write test). */
  init(): Promise<void>;
  read(name: string): Promise<string | null>;
  /**
   * Replace a set of files together: a reader sees all of the old set or all of the new one,
   * never a torn file nor a key that does not match its certificate, even after kill -9.
   */
  writeSet(setName: string, files: Record<string, string>): Promise<void>;
  /** Remove a set written by writeSet, given its file names; links that are not its own stay. */
  removeSet(setName: string, names: string[]): Promise<void>;
  /** Take an advisory lock so two tbots cannot share this store; returns its release. */
  lock(): Promise<() => void>;
}

export class MemoryStore implements Store {
  readonly description = "memory";
  private readonly files = new Map<string, string>();
  async init(): Promise<void> {}
  async read(name: string): Promise<string | null> {
    return this.files.get(name) ?? null;
  }
  async writeSet(_set: string, files: Record<string, string>): Promise<void> {
    for (const [k, v] of Object.entries(files)) this.files.set(k, v);
  }
  async removeSet(_set: string, names: string[]): Promise<void> {
    for (const n of names) this.files.delete(n);
  }
  async lock(): Promise<() => void> {
    return () => {};
  }
}
