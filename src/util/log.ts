// A small structured logger to stderr: text (default) or JSON lines. Components are
// bracketed as the reference prints them ("[TBOT:IDENTITY]"). Callers never pass secrets.

export type Level = "DEBUG" | "INFO" | "WARN" | "ERROR";
const order: Record<Level, number> = { DEBUG: 0, INFO: 1, WARN: 2, ERROR: 3 };

let minLevel: Level = "INFO";
let format: "text" | "json" = "text";

export function configureLogging(opts: { debug?: boolean; format?: "text" | "json" }): void {
  minLevel = opts.debug ? "DEBUG" : "INFO";
  if (opts.format) format = opts.format;
}

function write(level: Level, component: string, msg: string, attrs?: Record<string, unknown>): void {
  if (order[level] < order[minLevel]) return;
  const time = new Date().toISOString();
  if (format === "json") {
    process.stderr.write(
      `${JSON.stringify({ timestamp: time, level, component, message: msg, ...attrs })}\n`,
    );
    return;
  }
  const kv = attrs
    ? Object.entries(attrs)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => ` ${k}:${typeof v === "string" ? v : JSON.stringify(v)}`)
        .join("")
    : "";
  process.stderr.write(`${time} ${level.padEnd(5)} [${component}] ${msg}${kv}\n`);
}

export function logger(component: string) {
  return {
    debug: (m: string, a?: Record<string, unknown>) => write("DEBUG", component, m, a),
    info: (m: string, a?: Record<string, unknown>) => write("INFO", component, m, a),
    warn: (m: string, a?: Record<string, unknown>) => write("WARN", component, m, a),
    error: (m: string, a?: Record<string, unknown>) => write("ERROR", component, m, a),
  };
}
