// How claim values appear in denial messages. A denial must say which value failed without
// letting a caller make the server echo arbitrary amounts of text (or the token itself) into
// its answers and audit log, so every echoed value is quoted and cut short.

/** Longest echoed value, in characters, before it is cut. */
export const MAX_SHOWN_CHARS = 80;

/** A claim value quoted for a one-line message: JSON-escaped (no newlines survive), capped. */
export function shown(value: unknown, max = MAX_SHOWN_CHARS): string {
  if (value === undefined) return "(absent)";
  // A string is cut first and then quoted, so the quotes always show where it starts and ends;
  // anything else is shown as its JSON, cut.
  if (typeof value === "string") return JSON.stringify(cut(value, max));
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return cut(text, max);
}

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…[${text.length - max} more chars]` : text;
}

/** A list of allowed values for a message, itself capped so a long allow list stays one short line. */
export function shownList(values: readonly unknown[], maxItems = 5): string {
  const head = values.slice(0, maxItems).map((v) => shown(v));
  const more = values.length > maxItems ? `, …${values.length - maxItems} more` : "";
  return head.join(", ") + more;
}

/** Seconds since the epoch as an RFC 3339 instant, for time-claim messages. */
export function instant(seconds: number): string {
  const ms = seconds * 1000;
  if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) return String(seconds);
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}
