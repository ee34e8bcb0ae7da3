// One set of resource rules serves two inputs: YAML files (tctl create -f), whose errors must
// say file:line:col, and JSON bodies of API requests, whose errors carry no position. The rules
// are written against this small interface; YNode/MapReader (util/yaml-source.ts) implement it
// for YAML, and JsCursor below for plain values, with the same wording.

import { suggestion } from "../util/did-you-mean.ts";
import { durationField } from "../util/duration.ts";
import { UserError } from "../util/errors.ts";

export interface Cursor {
  /** Dotted path for messages, e.g. "spec.bound_keypair.recovery.mode". */
  readonly path: string;
  /** Absent or null. */
  readonly missing: boolean;
  fail(message: string): never;
  str(): string;
  int(): number;
  /** Milliseconds (Go duration syntax). */
  duration(): number;
  list(): Cursor[];
  strList(): string[];
  map(): Fields;
  isMap(): boolean;
  isList(): boolean;
  /** The plain value, for blocks passed through untouched. */
  toJS(): unknown;
}

export interface Fields {
  has(key: string): boolean;
  keys(): string[];
  get(key: string): Cursor;
  /** Rejects the first key not in `allowed`, with a did-you-mean. */
  strict(allowed: readonly string[]): Fields;
  optStr(key: string): string | undefined;
  optInt(key: string): number | undefined;
}

/** A cursor over a plain JSON-like value (API input). */
export class JsCursor implements Cursor {
  constructor(
    private readonly value: unknown,
    readonly path = "",
  ) {}

  get missing(): boolean {
    return this.value === undefined || this.value === null;
  }

  fail(message: string): never {
    throw new UserError(message);
  }

  private expected(what: string): never {
    this.fail(`${this.path || "document"} must be ${what}, got ${describe(this.value)}`);
  }

  str(): string {
    const v = this.value;
    if (typeof v === "string") return v;
    // Like the YAML reader: `name: 1234` is the string "1234".
    if (typeof v === "number" || typeof v === "boolean") return String(v);
    this.expected("a string");
  }

  int(): number {
    if (typeof this.value !== "number" || !Number.isInteger(this.value)) this.expected("an integer");
    return this.value;
  }

  duration(): number {
    const v = this.value;
    if (typeof v !== "string" && typeof v !== "number") this.expected('a duration such as "20m" or "1h"');
    const ms = durationField(v, this.path);
    if (typeof ms === "string") this.fail(ms);
    return ms;
  }

  list(): Cursor[] {
    if (!Array.isArray(this.value)) this.expected("a list");
    return this.value.map((item, i) => new JsCursor(item, `${this.path}[${i}]`));
  }

  strList(): string[] {
    return this.list().map((c) => c.str());
  }

  map(): Fields {
    if (!this.isMap()) this.expected("a mapping");
    return new JsFields(this.value as Record<string, unknown>, this.path);
  }

  isMap(): boolean {
    return typeof this.value === "object" && this.value !== null && !Array.isArray(this.value);
  }

  isList(): boolean {
    return Array.isArray(this.value);
  }

  toJS(): unknown {
    return this.value === undefined ? null : structuredClone(this.value);
  }
}

class JsFields implements Fields {
  constructor(
    private readonly object: Record<string, unknown>,
    private readonly path: string,
  ) {}

  has(key: string): boolean {
    return Object.hasOwn(this.object, key) && this.object[key] !== null && this.object[key] !== undefined;
  }

  keys(): string[] {
    return Object.keys(this.object);
  }

  get(key: string): Cursor {
    const value = Object.hasOwn(this.object, key) ? this.object[key] : undefined;
    return new JsCursor(value, this.path ? `${this.path}.${key}` : key);
  }

  strict(allowed: readonly string[]): Fields {
    for (const key of Object.keys(this.object)) {
      if (!allowed.includes(key)) {
        const inWhat = this.path ? ` in ${this.path}` : "";
        throw new UserError(`unknown field "${key}"${inWhat}${suggestion(key, allowed)}`);
      }
    }
    return this;
  }

  optStr(key: string): string | undefined {
    return this.has(key) ? this.get(key).str() : undefined;
  }

  optInt(key: string): number | undefined {
    return this.has(key) ? this.get(key).int() : undefined;
  }
}

function describe(v: unknown): string {
  if (v === undefined) return "nothing";
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "number") return `the number ${v}`;
  if (typeof v === "boolean") return `the boolean ${v}`;
  if (typeof v === "string") return `the string "${v}"`;
  return "an unsupported value";
}
