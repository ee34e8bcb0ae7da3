// Reading YAML with positions. Config files and resources are decoded strictly, and every
// message names the place it is about as file:line:col, so a user can jump straight to it.

import { type Document, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import { suggestion } from "./did-you-mean.ts";
import { durationField } from "./duration.ts";
import { UserError } from "./errors.ts";

export class YamlSource {
  readonly lines = new LineCounter();
  readonly docs: Document[];
  constructor(
    readonly text: string,
    readonly file: string,
  ) {
    this.docs = [];
    // Multi-document files are allowed (tctl create accepts several resources).
    const parts = splitDocuments(text);
    this.lines.addNewLine(0);
    for (let i = 0; i < text.length; i++) if (text[i] === "\n") this.lines.addNewLine(i + 1);
    // The YAML parser recurses per level of [ and {: a config nested thousands deep would take
    // seconds and end in a stack overflow. No real config comes near the limit.
    const deep = tooDeep(text);
    if (deep !== null) {
      const p = this.lines.linePos(deep);
      throw new UserError(`${file}:${p.line}:${p.col}: nested more than ${MAX_FLOW_DEPTH} levels deep`);
    }
    for (const part of parts) {
      // Blank out everything before this document (keeping newlines) so that node ranges
      // are offsets into the whole file, and positions in later documents are right.
      const padded = text.slice(0, part.offset).replace(/[^\n]/g, " ") + part.text;
      const doc = parseDocument(padded, { keepSourceTokens: false, uniqueKeys: true });
      for (const e of [...doc.errors]) {
        const p = this.lines.linePos(e.pos[0]);
        const message =
          e.code === "DUPLICATE_KEY" ? duplicateKeyMessage(padded, e.pos[0]) : cleanYamlMessage(e.message);
        throw new UserError(`${file}:${p.line}:${p.col}: ${message}`);
      }
      (doc as any).__offset = part.offset;
      this.docs.push(doc);
    }
  }

  /** The root of each non-empty document. */
  roots(): YNode[] {
    return this.docs
      .filter((d) => d.contents !== null && d.contents !== undefined)
      .map((d) => new YNode(this, d.contents as Node, "", (d as any).__offset ?? 0));
  }

  where(offset: number): string {
    const p = this.lines.linePos(offset);
    return `${this.file}:${p.line}:${p.col}`;
  }
}

const MAX_FLOW_DEPTH = 64;

/** Offset of the first [ or { nested deeper than MAX_FLOW_DEPTH (outside quotes and comments), or null. */
function tooDeep(text: string): number | null {
  let depth = 0;
  let quote = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === "\\" && quote === '"') i++;
      else if (c === quote) quote = "";
      continue;
    }
    // A quote opens a quoted scalar only where a scalar can start (not in "don't").
    if ((c === '"' || c === "'") && (i === 0 || /[\s:[{,-]/.test(text[i - 1]!))) quote = c;
    else if (c === "#" && (i === 0 || /\s/.test(text[i - 1]!)))
      while (i < text.length && text[i] !== "\n") i++;
    else if (c === "[" || c === "{") {
      if (++depth > MAX_FLOW_DEPTH) return i;
    } else if ((c === "]" || c === "}") && depth > 0) depth--;
  }
  return null;
}

function splitDocuments(text: string): { text: string; offset: number }[] {
  const out: { text: string; offset: number }[] = [];
  const re = /^---[ \t]*$/gm;
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    out.push({ text: text.slice(last, m.index), offset: last });
    last = m.index + m[0].length;
  }
  out.push({ text: text.slice(last), offset: last });
  // Line by line: a single regex over the whole text backtracks exponentially on blank runs.
  return out.filter((p) => !p.text.split("\n").every((l) => /^\s*(#.*)?$/.test(l)));
}

/** `duplicate key "oneshot"`: the key as written where the second one starts. */
function duplicateKeyMessage(text: string, at: number): string {
  const key = /^\s*(?:"([^"]*)"|'([^']*)'|([^:#\n]*?))\s*:/
    .exec(text.slice(at))
    ?.slice(1)
    .find((k) => k !== undefined);
  return key ? `duplicate key "${key}"` : "duplicate key (each key may appear once in a mapping)";
}

function cleanYamlMessage(m: string): string {
  // The yaml library appends a source excerpt after the first line; we print positions ourselves.
  return m.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
}

function typeName(n: Node | null): string {
  if (n === null) return "nothing";
  if (isMap(n)) return "a mapping";
  if (isSeq(n)) return "a list";
  if (isScalar(n)) {
    const v = n.value;
    if (v === null) return "null";
    if (typeof v === "number") return `the number ${v}`;
    if (typeof v === "boolean") return `the boolean ${v}`;
    return `the string "${String(v)}"`;
  }
  return "an unsupported value";
}

/** A node (or a missing one) with its place in the file. */
export class YNode {
  constructor(
    readonly src: YamlSource,
    readonly node: Node | null,
    /** Dotted path for messages, e.g. "onboarding.token" or "services[0].type". */
    readonly path: string,
    /** Where to point when the node is missing: its parent's start. */
    private readonly fallbackOffset: number,
  ) {}

  get missing(): boolean {
    return this.node === null || (isScalar(this.node) && this.node.value === null);
  }

  offset(): number {
    return this.node?.range?.[0] ?? this.fallbackOffset;
  }

  where(): string {
    return this.src.where(this.offset());
  }

  fail(message: string): never {
    throw new UserError(`${this.where()}: ${message}`);
  }

  private expected(what: string): never {
    this.fail(`${this.path || "document"} must be ${what}, got ${typeName(this.node)}`);
  }

  str(): string {
    if (!isScalar(this.node)) this.expected("a string");
    const v = this.node.value;
    if (typeof v === "string") return v;
    if (typeof v === "number" || typeof v === "boolean") return String(v);
    this.expected("a string");
  }

  bool(): boolean {
    if (!isScalar(this.node) || typeof this.node.value !== "boolean") this.expected("true or false");
    return this.node.value as boolean;
  }

  int(): number {
    if (!isScalar(this.node) || typeof this.node.value !== "number" || !Number.isInteger(this.node.value))
      this.expected("an integer");
    return this.node.value as number;
  }

  /** Duration in milliseconds (Go syntax). */
  duration(): number {
    if (!isScalar(this.node) || (typeof this.node.value !== "string" && typeof this.node.value !== "number"))
      this.expected('a duration such as "20m" or "1h"');
    const r = durationField(this.node.value, this.path);
    if (typeof r === "string") this.fail(r);
    return r;
  }

  list(): YNode[] {
    if (!isSeq(this.node)) this.expected("a list");
    return this.node.items.map(
      (it, i) => new YNode(this.src, it as Node, `${this.path}[${i}]`, this.offset()),
    );
  }

  strList(): string[] {
    return this.list().map((n) => n.str());
  }

  map(): MapReader {
    if (!isMap(this.node)) this.expected("a mapping");
    return new MapReader(this);
  }

  isMap(): boolean {
    return isMap(this.node);
  }
  isList(): boolean {
    return isSeq(this.node);
  }
  isScalar(): boolean {
    return isScalar(this.node) && this.node.value !== null;
  }

  /** The plain JS value (for pass-through blocks such as labels). */
  toJS(): unknown {
    return this.node && "toJSON" in this.node ? (this.node as any).toJSON() : null;
  }
}

/** A mapping read key by key; `strict()` rejects keys that were not expected. */
export class MapReader {
  private readonly byKey = new Map<string, { key: Node; value: Node | null }>();
  constructor(readonly self: YNode) {
    const m = self.node as any;
    for (const pair of m.items) {
      const k = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      this.byKey.set(k, { key: pair.key as Node, value: (pair.value as Node) ?? null });
    }
  }

  has(key: string): boolean {
    const v = this.byKey.get(key);
    return v !== undefined && v.value !== null && !(isScalar(v.value) && v.value.value === null);
  }

  keys(): string[] {
    return [...this.byKey.keys()];
  }

  get(key: string): YNode {
    const v = this.byKey.get(key);
    const path = this.self.path ? `${this.self.path}.${key}` : key;
    return new YNode(this.self.src, v?.value ?? null, path, v?.key.range?.[0] ?? this.self.offset());
  }

  /** Throws at the first key not in `allowed`, naming it and the place it was found. */
  strict(allowed: readonly string[]): this {
    for (const [k, v] of this.byKey) {
      if (!allowed.includes(k)) {
        const where = this.self.src.where(v.key.range?.[0] ?? this.self.offset());
        const inWhat = this.self.path ? ` in ${this.self.path}` : "";
        throw new UserError(`${where}: unknown field "${k}"${inWhat}${suggestion(k, allowed)}`);
      }
    }
    return this;
  }

  /** Optional getters: undefined when the key is absent or null. */
  optStr(key: string): string | undefined {
    return this.has(key) ? this.get(key).str() : undefined;
  }
  optBool(key: string): boolean | undefined {
    return this.has(key) ? this.get(key).bool() : undefined;
  }
  optInt(key: string): number | undefined {
    return this.has(key) ? this.get(key).int() : undefined;
  }
  optDuration(key: string): number | undefined {
    return this.has(key) ? this.get(key).duration() : undefined;
  }
  optStrList(key: string): string[] | undefined {
    return this.has(key) ? this.get(key).strList() : undefined;
  }
}

/** Parse a single-document YAML text and return its root node (missing if the file is empty). */
export function parseYaml(text: string, file: string): YNode {
  const src = new YamlSource(text, file);
  const roots = src.roots();
  if (roots.length > 1) throw new UserError(`${file}: expected one YAML document, found ${roots.length}`);
  return roots[0] ?? new YNode(src, null, "", 0);
}
