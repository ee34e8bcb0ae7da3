// The one-line text form of keys and certificates: "<type> <base64 blob> [comment]", as in
// authorized_keys, known_hosts (after the host field) and *.pub files.
import { toBase64 } from "../bytes.ts";
import { SshFormatError, shownName } from "./errors.ts";
import { SshReader } from "./wire.ts";

const base64Pattern = /^[A-Za-z0-9+/]+={0,2}$/;

/** Strict: Buffer's decoder skips junk silently, so check the alphabet and that the text is the canonical encoding. */
export function fromBase64(text: string, what: string): Uint8Array {
  const decoded = Buffer.from(text, "base64");
  const canonical = decoded.toString("base64");
  const matches = text.includes("=") ? canonical === text : canonical.replace(/=+$/, "") === text;
  if (!base64Pattern.test(text) || !matches) {
    throw new SshFormatError(`${what} is not valid base64 (damaged or cut off?)`);
  }
  // A copy: small Buffers are views into a shared pool that callers should not see through .buffer.
  return new Uint8Array(decoded);
}

export interface KeyLine {
  type: string;
  base64: string;
  comment: string;
}

export function splitKeyLine(line: string): KeyLine {
  if (typeof line !== "string") throw new SshFormatError("expected an OpenSSH key line (a string)");
  const trimmed = line.trim();
  if (/[\r\n]/.test(trimmed)) throw new SshFormatError("expected one key line, got several lines");
  const match = /^(\S+)\s+(\S+)(?:\s+(.*))?$/.exec(trimmed);
  if (!match) {
    const shown = trimmed.length > 40 ? `${trimmed.slice(0, 40)}…` : trimmed;
    throw new SshFormatError(`expected "<key type> <base64 key> [comment]", got "${shown}"`);
  }
  return { type: match[1] as string, base64: match[2] as string, comment: match[3] ?? "" };
}

export function formatKeyLine(type: string, blob: Uint8Array): string {
  return `${type} ${toBase64(blob)}`;
}

export interface DecodedKeyLine {
  type: string;
  blob: Uint8Array;
  comment: string;
}

/** Split and decode a key line, and check that the type it names is the type inside the blob. */
export function decodeKeyLine(line: string): DecodedKeyLine {
  const { type, base64, comment } = splitKeyLine(line);
  const blob = fromBase64(base64, `the data of the ${shownName(type)} key`);
  const inner = new SshReader(blob, `${shownName(type)} key data`).text("key type");
  if (inner !== type) {
    throw new SshFormatError(`the key line says ${shownName(type)} but its data holds ${shownName(inner)}`);
  }
  return { type, blob, comment };
}
