// A small structured logger to stderr: text (default) or JSON lines (`--log-format json`, one
// object per line: timestamp, level, component, message, then the attributes). Components are
// bracketed in text as the reference prints them ("[TBOT:IDENTITY]").
//
// Callers never pass secrets; as a second line of defence, attributes whose key names a secret
// (token, secret, password, private key) are replaced by "[redacted]", and a PEM private key
// anywhere in a message or value is cut out.

import { ExitCode, UserError } from "./errors.ts";

export type Level = "DEBUG" | "INFO" | "WARN" | "ERROR";
const order: Record<Level, number> = { DEBUG: 0, INFO: 1, WARN: 2, ERROR: 3 };

let minLevel: Level = "INFO";
let format: "text" | "json" = "text";
let sink: (line: string) => void = (line) => process.stderr.write(line);

export function configureLogging(opts: { debug?: boolean; format?: "text" | "json" }): void {
  minLevel = opts.debug ? "DEBUG" : "INFO";
  if (opts.format) format = opts.format;
}

/** Tests: send lines elsewhere; returns the function that restores stderr. */
export function captureLogs(to: (line: string) => void): () => void {
  const before = sink;
  sink = to;
  return () => {
    sink = before;
  };
}

/** Attribute keys whose values are secrets whatever they hold. */
const SECRET_KEY = /token|secret|password|passphrase|private_?key|^key$|credential|authorization|cookie/i;
/** Keys that name a secret without holding one. */
const SAFE_KEY = /(_path|_file|_dir|_name|_type|_method|_ttl|_id)$|^(token_source|join_method)$/i;
const PEM_PRIVATE = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g;
/** The fields every JSON line has: an attribute of the same name is renamed, never overrides. */
const RESERVED = new Set(["timestamp", "level", "component", "message"]);

export function redactText(s: string): string {
  return s.includes("PRIVATE KEY-----") ? s.replace(PEM_PRIVATE, "[redacted private key]") : s;
}

function redactValue(key: string, v: unknown): unknown {
  if (v === undefined || v === null) return v;
  if (SECRET_KEY.test(key) && !SAFE_KEY.test(key)) return "[redacted]";
  if (typeof v === "string") return redactText(v);
  if (v instanceof Error) return redactText(v.message);
  if (typeof v === "object") {
    try {
      return JSON.parse(redactText(JSON.stringify(v)), (k, x) =>
        k && SECRET_KEY.test(k) && !SAFE_KEY.test(k) ? "[redacted]" : x,
      );
    } catch {
      return String(v);
    }
  }
  return v;
}

/** The attributes as logged: undefined dropped, secrets redacted, reserved names prefixed. */
export function cleanAttrs(attrs: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined) continue;
    out[RESERVED.has(k) ? `attr_${k}` : k] = redactValue(k, v);
  }
  return out;
}

export function formatLine(
  fmt: "text" | "json",
  time: string,
  level: Level,
  component: string,
  msg: string,
  attrs?: Record<string, unknown>,
): string {
  const a = cleanAttrs(attrs);
  const message = redactText(msg);
  if (fmt === "json") return `${JSON.stringify({ timestamp: time, level, component, message, ...a })}\n`;
  const kv = Object.entries(a)
    .map(([k, v]) => ` ${k}:${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join("");
  return `${time} ${level.padEnd(5)} [${component}] ${message}${kv}\n`;
}

function write(level: Level, component: string, msg: string, attrs?: Record<string, unknown>): void {
  if (order[level] < order[minLevel]) return;
  sink(formatLine(format, new Date().toISOString(), level, component, msg, attrs));
}

/**
 * With --log-format json, the error a command ends with, as one more JSON line (what
 * util/errors.ts' reportError prints as `ERROR: …` in text); returns the exit code.
 */
export function reportErrorJson(err: unknown, debug: boolean): number {
  const e = err as Error;
  write("ERROR", "TBOT", e?.message ?? String(err), {
    exit: true,
    ...(debug && e?.stack ? { stack: e.stack } : {}),
  });
  return err instanceof UserError ? err.exitCode : ExitCode.error;
}

export function logger(component: string) {
  return {
    debug: (m: string, a?: Record<string, unknown>) => write("DEBUG", component, m, a),
    info: (m: string, a?: Record<string, unknown>) => write("INFO", component, m, a),
    warn: (m: string, a?: Record<string, unknown>) => write("WARN", component, m, a),
    error: (m: string, a?: Record<string, unknown>) => write("ERROR", component, m, a),
  };
}
