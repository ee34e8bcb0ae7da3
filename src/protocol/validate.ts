// Validation of wire messages: a few combinators (string, integer, boolean, array, object,
// record, opaque object, RFC 3339 time) from which each message type's schema is built, next
// to its type in messages.ts. A schema turns an unknown JSON value into the typed message or
// throws a 400 (bad_parameter) that names the field and what is wrong with it; it never lets
// a value of the wrong type through to a handler. Unknown fields are dropped (a newer client
// may send more than this server knows), so a handler sees only what its type declares.
//
// Bounds are part of each schema: every string has a maximum length, every array a maximum
// count, and opaque objects (method-specific join payloads) a maximum encoded size.
// parseJsonBounded refuses nesting deeper than a limit before JSON.parse sees the text.

import { rfc3339Problem } from "../resources/value-formats.ts";
import { UserError } from "../util/errors.ts";

export class SchemaError extends UserError {
  constructor(message: string) {
    super(message, "bad_parameter");
    this.name = "SchemaError";
  }
}

export interface Schema<T> {
  /** Returns the validated value; `path` names the field in error messages ("bot_params.expires"). */
  parse(value: unknown, path: string): T;
  /** Absent (undefined or null) is accepted and yields undefined. */
  readonly optional?: boolean;
}

/** What a value is, for error messages: "a string", "an object", "null", "an array"… */
/** The longest public key (PEM or authorized-key line) a wire message may carry. */
export const MAX_KEY_CHARS = 4096;

export function describeValue(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  switch (typeof v) {
    case "string":
      return "a string";
    case "number":
      return "a number";
    case "boolean":
      return "a boolean";
    case "object":
      return "an object";
    default:
      return typeof v;
  }
}

const where = (path: string) => path || "the request body";

export interface StringRules {
  /** Maximum length in characters (required: every string is bounded). */
  max: number;
  /** Minimum length; default 0. 1 means "must not be empty". */
  min?: number;
  /** The whole string must match. */
  pattern?: RegExp;
  /** What the pattern means, for the message ("printable characters without spaces"). */
  patternHint?: string;
}

export function str(rules: StringRules): Schema<string> {
  return {
    parse(v, path) {
      if (typeof v !== "string")
        throw new SchemaError(`${where(path)} must be a string, got ${describeValue(v)}`);
      if (v.length > rules.max)
        throw new SchemaError(`${where(path)} must be at most ${rules.max} characters, got ${v.length}`);
      if (v.length < (rules.min ?? 0))
        throw new SchemaError(
          rules.min === 1
            ? `${where(path)} must not be empty`
            : `${where(path)} must be at least ${rules.min} characters, got ${v.length}`,
        );
      if (rules.pattern && !rules.pattern.test(v))
        throw new SchemaError(
          `${where(path)} must be ${rules.patternHint ?? `of the form ${rules.pattern}`}`,
        );
      return v;
    },
  };
}

export function literal<const T extends string>(...values: T[]): Schema<T> {
  return {
    parse(v, path) {
      if (typeof v !== "string")
        throw new SchemaError(`${where(path)} must be a string, got ${describeValue(v)}`);
      if (!(values as string[]).includes(v))
        throw new SchemaError(
          `${where(path)} must be ${values.map((x) => `"${x}"`).join(" or ")}, got "${v.length > 64 ? `${v.slice(0, 64)}…` : v}"`,
        );
      return v as T;
    },
  };
}

export function int(rules: { min: number; max: number }): Schema<number> {
  return {
    parse(v, path) {
      if (typeof v !== "number" || !Number.isInteger(v))
        throw new SchemaError(`${where(path)} must be an integer, got ${describeValue(v)}`);
      if (v < rules.min || v > rules.max)
        throw new SchemaError(`${where(path)} must be between ${rules.min} and ${rules.max}, got ${v}`);
      return v;
    },
  };
}

export function bool(): Schema<boolean> {
  return {
    parse(v, path) {
      if (typeof v !== "boolean")
        throw new SchemaError(`${where(path)} must be true or false, got ${describeValue(v)}`);
      return v;
    },
  };
}

/** An RFC 3339 time as Go accepts it ("2025-12-01T00:00:00Z", "…+02:00"). */
export function rfc3339(): Schema<string> {
  const s = str({ max: 64, min: 1 });
  return {
    parse(v, path) {
      const text = s.parse(v, path);
      if (rfc3339Problem(text))
        throw new SchemaError(`${where(path)} must be an RFC 3339 time such as "2025-12-01T00:00:00Z"`);
      return text;
    },
  };
}

export function arr<T>(item: Schema<T>, rules: { max: number; min?: number }): Schema<T[]> {
  return {
    parse(v, path) {
      if (!Array.isArray(v))
        throw new SchemaError(`${where(path)} must be an array, got ${describeValue(v)}`);
      if (v.length > rules.max)
        throw new SchemaError(`${where(path)} must have at most ${rules.max} entries, got ${v.length}`);
      if (v.length < (rules.min ?? 0))
        throw new SchemaError(`${where(path)} must have at least ${rules.min} entries`);
      return v.map((x, i) => item.parse(x, `${path}[${i}]`));
    },
  };
}

/** A string or a list (label selector values): the first schema for a non-array, the second for an array. */
export function anyOf<A, B>(single: Schema<A>, list: Schema<B>): Schema<A | B> {
  return {
    parse(v, path) {
      return Array.isArray(v) ? list.parse(v, path) : single.parse(v, path);
    },
  };
}

export function optional<T>(s: Schema<T>): Schema<T | undefined> {
  return {
    optional: true,
    parse(v, path) {
      return v === undefined || v === null ? undefined : s.parse(v, path);
    },
  };
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

type Fields<T> = { [K in keyof T]-?: Schema<T[K]> };

/**
 * An object with the given fields. Required fields that are missing or null are "required";
 * optional ones (wrapped in optional()) may be absent. Unknown fields are dropped, or with
 * `unknown: "reject"` refused (for bodies whose sender always ships with this server: tctl).
 */
export function obj<T extends object>(
  fields: Fields<T>,
  opts: { unknown?: "drop" | "reject" } = {},
): Schema<T> {
  const entries = Object.entries(fields) as [string, Schema<unknown>][];
  const known = new Set(Object.keys(fields));
  return {
    parse(v, path) {
      if (!isPlainObject(v))
        throw new SchemaError(`${where(path)} must be an object, got ${describeValue(v)}`);
      if (opts.unknown === "reject")
        for (const k of Object.keys(v))
          if (!known.has(k)) {
            const shown = k.length > 64 ? `${k.slice(0, 64)}…` : k;
            throw new SchemaError(
              `${path ? `${path}: ` : ""}unknown field "${shown}" (expected ${[...known].join(", ") || "no fields"})`,
            );
          }
      const out: Record<string, unknown> = {};
      for (const [k, s] of entries) {
        const p = path ? `${path}.${k}` : k;
        const x = Object.hasOwn(v, k) ? v[k] : undefined;
        if ((x === undefined || x === null) && !s.optional) throw new SchemaError(`${p} is required`);
        const parsed = s.parse(x, p);
        if (parsed !== undefined) out[k] = parsed;
      }
      return out as T;
    },
  };
}

/** A string-to-value map (labels): bounded number of keys, keys and values validated. */
export function record<V>(
  key: Schema<string>,
  value: Schema<V>,
  rules: { maxKeys: number },
): Schema<Record<string, V>> {
  return {
    parse(v, path) {
      if (!isPlainObject(v))
        throw new SchemaError(`${where(path)} must be an object, got ${describeValue(v)}`);
      const keys = Object.keys(v);
      if (keys.length > rules.maxKeys)
        throw new SchemaError(
          `${where(path)} must have at most ${rules.maxKeys} entries, got ${keys.length}`,
        );
      const out: Record<string, V> = {};
      for (const k of keys) {
        key.parse(k, `${path} key`);
        // defineProperty: a key named "__proto__" stays a plain entry.
        Object.defineProperty(out, k, {
          value: value.parse(v[k], `${path}.${k.length > 64 ? `${k.slice(0, 64)}…` : k}`),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    },
  };
}

/**
 * An object whose fields another layer validates (join methods' method_init and solution):
 * checked here only to be an object whose JSON encoding is at most `maxBytes`.
 */
export function opaqueObject(rules: { maxBytes: number }): Schema<Record<string, unknown>> {
  return {
    parse(v, path) {
      if (!isPlainObject(v))
        throw new SchemaError(`${where(path)} must be an object, got ${describeValue(v)}`);
      const size = Buffer.byteLength(JSON.stringify(v), "utf8");
      if (size > rules.maxBytes)
        throw new SchemaError(`${where(path)} must be at most ${rules.maxBytes} bytes of JSON, got ${size}`);
      return v;
    },
  };
}

/** Any JSON object, accepted as is (resources, whose rules live elsewhere). */
export function anyObject(): Schema<Record<string, unknown>> {
  return {
    parse(v, path) {
      if (!isPlainObject(v))
        throw new SchemaError(`${where(path)} must be an object, got ${describeValue(v)}`);
      return v;
    },
  };
}

export const MAX_JSON_DEPTH = 64;

/**
 * JSON.parse with the nesting of arrays and objects limited to `maxDepth`, checked by a scan
 * of the text before parsing (a 100,000-deep array would otherwise overflow the parser's stack,
 * or each later recursive walk of the value). Throws a SchemaError (400) for bad JSON.
 */
export function parseJsonBounded(text: string, maxDepth = MAX_JSON_DEPTH): unknown {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth)
        throw new SchemaError(`request body is nested deeper than ${maxDepth} levels of arrays and objects`);
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    const detail = e instanceof SyntaxError ? `: ${e.message.slice(0, 200)}` : "";
    throw new SchemaError(`request body is not valid JSON${detail}`);
  }
}
