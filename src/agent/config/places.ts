// Where each value of a decoded config came from in its file. Validation runs after the
// CLI flags have been laid over the file, so it cannot hold YAML nodes; it asks this table
// instead, and a value a flag replaced is forgotten so that no message points at a line
// the user did not write.

import { UserError } from "../../util/errors.ts";

interface Place {
  /** "file:line:col" */
  where: string;
  /** How the value is named in messages, e.g. "outputs[0].destination.path". */
  label: string;
}

export class ConfigPlaces {
  private readonly byKey = new Map<string, Place>();

  /** `file` is the config file's name, or undefined when the config came from flags only. */
  constructor(readonly file?: string) {}

  set(key: string, where: string, label: string = key): void {
    this.byKey.set(key, { where, label });
  }

  has(key: string): boolean {
    return this.byKey.has(key);
  }

  /** True when the file set `key` or anything below it. */
  hasUnder(key: string): boolean {
    for (const k of this.byKey.keys()) if (isUnder(k, key)) return true;
    return false;
  }

  label(key: string): string {
    return this.byKey.get(key)?.label ?? key;
  }

  /** Drop `key` and everything below it (a flag replaced that part of the file). */
  forget(key: string): void {
    for (const k of [...this.byKey.keys()]) if (isUnder(k, key)) this.byKey.delete(k);
  }

  /**
   * An error about `key`: "file:line:col: msg" when the file set it; plain "msg" when a flag
   * set it. With no key the problem is the config as a whole: "file: msg" if there is a file.
   */
  error(key: string | undefined, message: string): UserError {
    if (key !== undefined) {
      const place = this.byKey.get(key);
      return new UserError(place ? `${place.where}: ${message}` : message);
    }
    return new UserError(this.file !== undefined ? `${this.file}: ${message}` : message);
  }
}

function isUnder(k: string, key: string): boolean {
  return k === key || k.startsWith(`${key}.`) || k.startsWith(`${key}[`);
}
