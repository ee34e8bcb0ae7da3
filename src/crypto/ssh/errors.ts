import { UserError } from "../../util/errors.ts";

/**
 * Malformed or unsupported OpenSSH key / certificate data. A UserError, because the bytes
 * nearly always come from a file or request someone gave us, and the message must say what
 * is wrong with them rather than show a stack.
 */
export class SshFormatError extends UserError {
  constructor(message: string) {
    super(message, "bad_parameter");
    this.name = "SshFormatError";
  }
}

/** A name read from untrusted bytes, safe to put in a message: quoted if printable, else described. */
export function shownName(name: string): string {
  if (/^[\x21-\x7e]{1,80}$/.test(name)) return `"${name}"`;
  return name === "" ? "an empty name" : "unreadable bytes (no type name: damaged data?)";
}
