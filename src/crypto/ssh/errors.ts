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
