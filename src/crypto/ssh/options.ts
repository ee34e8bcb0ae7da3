// Certificate critical options and extensions (PROTOCOL.certkeys): a packed list of
// string(name) + string(data), where data is empty for flags or itself holds string(value).
import { SshFormatError, shownName } from "./errors.ts";
import { SshReader, SshWriter } from "./wire.ts";

const utf8 = new TextEncoder();

/** OpenSSH compares names with strcmp, i.e. by UTF-8 bytes, not by UTF-16 code units as Array.sort does. */
function compareUtf8(a: string, b: string): number {
  return Buffer.compare(utf8.encode(a), utf8.encode(b));
}

/** Encode options sorted by name, as OpenSSH requires; a "" value is written as empty data. */
export function encodeOptions(options: Record<string, string> | undefined, what: string): Uint8Array {
  const w = new SshWriter();
  const entries = Object.entries(options ?? {}).sort(([a], [b]) => compareUtf8(a, b));
  for (const [name, value] of entries) {
    if (name === "") throw new SshFormatError(`${what}: an option name must not be empty`);
    w.string(name);
    w.string(value === "" ? new Uint8Array(0) : new SshWriter().string(value).finish());
  }
  return w.finish();
}

/** Decode a packed option list; names must be unique, and non-empty data must be exactly one string. */
export function decodeOptions(packed: Uint8Array, what: string): Record<string, string> {
  const r = new SshReader(packed, what);
  const seen = new Map<string, string>();
  while (r.remaining > 0) {
    const name = r.text("option name");
    const data = r.string(`data of ${shownName(name)}`);
    let value = "";
    if (data.length > 0) {
      const inner = new SshReader(data, `${what}: data of ${shownName(name)}`);
      value = inner.text("value");
      inner.expectEnd();
    }
    if (seen.has(name)) throw new SshFormatError(`${what}: ${shownName(name)} appears twice`);
    seen.set(name, value);
  }
  // fromEntries defines own properties, so a name like "__proto__" stays plain data.
  return Object.fromEntries(seen);
}
