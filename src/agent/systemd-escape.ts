// Turning user-supplied names and paths into systemd unit values. systemd expands `%`
// specifiers in most values and `$VAR` in ExecStart=, and splits ExecStart= on whitespace, so a
// value is either escaped for its directive or refused with a message that says why; a newline
// would even start a new directive, so control characters are always refused.

import { isAbsolute } from "node:path";
import { UserError } from "../util/errors.ts";

const controlChars = /[\u0000-\u001f\u007f]/;

/** `<name>.service`: letters, digits and `:_.-`; no `@` (that would make it a template unit). */
export function checkUnitName(name: string): string {
  if (!/^[A-Za-z0-9_:][A-Za-z0-9_:.-]*$/.test(name) || name.length > 247)
    throw new UserError(
      `--name "${name}" is not a valid systemd unit name: use letters, digits and ":_.-" (it becomes ${name}.service)`,
    );
  return name;
}

/** User= and Group= take a name (systemd's strict rules) or a numeric id. */
export function checkAccountName(value: string, flag: string): string {
  if (!/^([A-Za-z_][A-Za-z0-9_-]{0,30}|\d+)$/.test(value))
    throw new UserError(`${flag} "${value}" is not a valid user or group name`);
  return value;
}

/**
 * A path for a directive that takes one path (PIDFile=, ReadWritePaths=…): absolute, `%`
 * escaped. Whitespace, quotes and backslashes are refused rather than quoted: the directives
 * differ in whether they unquote, and such paths are rare enough to ask for another.
 */
export function pathValue(path: string, what: string): string {
  if (!isAbsolute(path)) throw new UserError(`${what} must be an absolute path, got "${path}"`);
  if (/[\s"'\\]/.test(path) || controlChars.test(path))
    throw new UserError(
      `${what} "${path}" cannot be used in a systemd unit: it contains whitespace, a quote or a backslash`,
    );
  return path.replace(/%/g, "%%");
}

/** One word of an ExecStart= command line, quoted only when it must be. */
export function execWord(word: string, what: string): string {
  if (controlChars.test(word)) throw new UserError(`${what} contains a control character`);
  const escaped = word.replace(/%/g, "%%").replace(/\$/g, "$$$$");
  if (/^[^\s"'\\;]+$/.test(escaped)) return escaped;
  return `"${escaped.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** The program path that starts ExecStart=: absolute, as systemd requires for a portable unit. */
export function execPath(path: string, what: string): string {
  if (!isAbsolute(path)) throw new UserError(`${what} must be an absolute path, got "${path}"`);
  return execWord(path, what);
}
