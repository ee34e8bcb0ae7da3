// Go-style durations ("1h30m", "90s", "20m", "1.5h", "300ms"), as tbot.yaml and the
// reference's resources use them.

const unitMs: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Parses a Go duration into milliseconds, or returns an error message. */
export function parseDuration(text: string): number | string {
  const s = text.trim();
  if (s === "0") return 0;
  if (s.startsWith("-")) return `negative duration "${text}" is not allowed`;
  const re = /(\d+(?:\.\d+)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let pos = 0;
  if (s.startsWith("+")) pos = 1;
  if (pos >= s.length)
    return `invalid duration "${text}": expected a number with a unit such as 90s, 20m or 1h`;
  while (pos < s.length) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m) return `invalid duration "${text}": expected a number with a unit such as 90s, 20m or 1h`;
    total += Number(m[1]) * unitMs[m[2]!]!;
    pos = re.lastIndex;
  }
  return Math.round(total);
}

/**
 * A duration field (`path` names it in messages) in milliseconds, or what is wrong with it.
 * YAML and JSON both turn a bare `0` into a number; that is the one number taken without a unit.
 */
export function durationField(value: string | number, path: string): number | string {
  if (typeof value === "number")
    return value === 0 ? 0 : `${path} must be a duration with a unit such as "20m" or "1h", got ${value}`;
  const ms = parseDuration(value);
  return typeof ms === "string" ? `${path}: ${ms}` : ms;
}

/** Formats milliseconds the way Go prints durations: 1h0m0s, 20m0s, 1m30s, 500ms. */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  if (ms < 1000) return `${ms}ms`;
  let rest = Math.round(ms / 1000);
  const h = Math.floor(rest / 3600);
  rest -= h * 3600;
  const m = Math.floor(rest / 60);
  const sec = rest - m * 60;
  if (h > 0) return `${h}h${m}m${sec}s`;
  if (m > 0) return `${m}m${sec}s`;
  return `${sec}s`;
}
