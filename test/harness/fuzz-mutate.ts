// Mutations of a valid request (a Shape) into the kind of input a hostile or broken client
// sends: structure-aware JSON mutations (type confusion, prototype keys, huge and deep
// values, unicode), byte-level damage (truncation, flips, invalid UTF-8), and mistakes
// around the body (content types, methods, paths, query strings). Deterministic in the Rng.

import type { Rng } from "./fault.ts";

export interface Shape {
  method: string;
  path: string;
  body?: unknown;
  query?: Record<string, string>;
}

export interface Mutated {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  label: string;
}

const deep = (n: number, leaf: unknown): unknown => {
  let v = leaf;
  for (let i = 0; i < n; i++) v = [v];
  return v;
};

/** Values that break code which trusts a field's type. */
function nasty(r: Rng): unknown {
  const pick = r.int(0, 27);
  switch (pick) {
    case 0:
      return { toString: 1 };
    case 1:
      return { valueOf: 1, toString: null };
    case 2:
      return null;
    case 3:
      return [];
    case 4:
      return [[[]]];
    case 5:
      return r.pick([0, -1, 1.5, 1e308, -1e308, 2 ** 53 + 1, -0]);
    case 6:
      return r.chance(0.5);
    case 7:
      return "";
    case 8:
      return "x".repeat(r.pick([1024, 65_536, 300_000]));
    case 9:
      return deep(r.pick([64, 1000, 5000]), "x");
    case 10:
      return r.pick(["\u0000", "\ud800", "\udfff\ud800", "𝕏🙂", "\u202eevil", "e\u0301", "\uFEFF", "ﬀ"]);
    case 11:
      return JSON.parse('{"__proto__": {"polluted": 1, "isAdmin": true}}');
    case 12:
      return { constructor: { prototype: { polluted: 1 } } };
    case 13:
      return r.pick(["__proto__", "constructor", "prototype", "hasOwnProperty", "toString"]);
    case 14:
      return r.pick(["2026-99-99T00:00:00Z", "+275760-09-13T00:00:00.000Z", "-271821-04-20T00:00:00.000Z"]);
    case 15:
      return r.pick(["9999-12-31T23:59:59Z", "1970-01-01T00:00:00Z", "0", "NaN", "Infinity", "-1"]);
    case 16:
      return r.pick(["../../etc/passwd", "/v1/../admin", "%00", "a/b", "*", "sha256:", "sha256:zz"]);
    case 17:
      return r.pick([
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        "ssh-ed25519 AAAA",
        "ecdsa-sha2-nistp256",
      ]);
    case 18:
      return Array.from({ length: r.pick([100, 10_000]) }, (_, i) => `x${i}`);
    case 19:
      return Object.fromEntries(Array.from({ length: r.pick([100, 5000]) }, (_, i) => [`k${i}`, i]));
    case 20:
      return { length: 1e9 };
    case 21:
      return JSON.parse('{"then": 1}'); // a thenable where a plain object is expected
    case 22:
      return r.pick(["true", "null", "{}", "[]", "1e400"]);
    case 23:
      return "a\nb\r\nc: d";
    case 24:
      return { $ne: null };
    case 25:
      return 1e21;
    case 26:
      return r.pick(["Bot", "Admin", "admin", "bot"]);
    default:
      return r.pick([{}, { a: {} }, [null], [1, "a", {}]]);
  }
}

/** Every (parent, key) of a JSON tree, so a mutation can pick any node. */
function slots(root: unknown): { parent: Record<string, unknown> | unknown[]; key: string | number }[] {
  const out: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v))
      for (let i = 0; i < v.length; i++) {
        out.push({ parent: v, key: i });
        walk(v[i]);
      }
    else if (v && typeof v === "object")
      for (const k of Object.keys(v)) {
        out.push({ parent: v as Record<string, unknown>, key: k });
        walk((v as Record<string, unknown>)[k]);
      }
  };
  walk(root);
  return out;
}

/** 1–3 structural mutations of a copy of `value`. */
export function mutateJson(r: Rng, value: unknown): { value: unknown; label: string } {
  let v = structuredClone(value);
  const labels: string[] = [];
  for (let n = r.int(1, 3); n > 0; n--) {
    const all = slots(v);
    const op = r.int(0, 5);
    if (op === 0 || !all.length) {
      v = nasty(r);
      labels.push("root");
      continue;
    }
    const s = r.pick(all);
    const parent = s.parent as Record<string | number, unknown>;
    if (op <= 2) {
      parent[s.key] = nasty(r);
      labels.push(`set ${s.key}`);
    } else if (op === 3) {
      if (Array.isArray(parent)) parent.splice(Number(s.key), 1);
      else delete parent[s.key];
      labels.push(`delete ${s.key}`);
    } else if (op === 4) {
      const k = r.pick(["__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "extra", ""]);
      if (!Array.isArray(parent))
        Object.defineProperty(parent, k, {
          value: nasty(r),
          enumerable: true,
          configurable: true,
          writable: true,
        });
      labels.push(`add ${k}`);
    } else {
      // The same value, another type: "1" ↔ 1, x ↔ [x], x ↔ {value: x}.
      const cur = parent[s.key];
      parent[s.key] = r.pick([
        JSON.stringify(cur) ?? "",
        Number(typeof cur === "object" ? NaN : cur),
        [cur],
        { value: cur },
        typeof cur === "string" ? cur.repeat(50) : cur,
      ]);
      labels.push(`retype ${s.key}`);
    }
  }
  return { value: v, label: labels.join(",") };
}

/** Damage to the serialized bytes. */
function mutateBytes(r: Rng, b: Buffer): { body: Buffer; label: string } {
  switch (r.int(0, 7)) {
    case 0:
      return { body: b.subarray(0, r.int(0, Math.max(0, b.length - 1))), label: "truncated" };
    case 1: {
      const c = Buffer.from(b);
      for (let i = r.int(1, 8); i > 0 && c.length; i--) c[r.int(0, c.length - 1)] = r.int(0, 255);
      return { body: c, label: "bytes flipped" };
    }
    case 2:
      return { body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), b]), label: "BOM" };
    case 3:
      return { body: Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xff, 0xfe]), label: "invalid utf-8" };
    case 4:
      return {
        body: Buffer.from(`${"[".repeat(200_000)}${"]".repeat(200_000)}`),
        label: "deep nesting 200k",
      };
    case 5:
      return { body: Buffer.from(b.toString().replace("{", '{"a":1,"a":{"b":2},')), label: "duplicate keys" };
    case 6:
      // Just past the 1 MiB limit mostly; a big one now and then (they are slow to send).
      if (r.chance(0.3))
        return { body: Buffer.alloc(r.pick([(1 << 20) + 1, 3 << 20]), 0x20), label: "oversized" };
      return { body: Buffer.concat([b, Buffer.from(" ")]), label: "trailing space" };
    default:
      return { body: Buffer.concat([b, Buffer.from(" garbage")]), label: "trailing garbage" };
  }
}

const CONTENT_TYPES = [
  "application/json",
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  "application/json; charset=utf-16",
  "application/octet-stream",
  "",
];
const METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"];

function mutatePath(r: Rng, path: string): string {
  return r.pick([
    `${path}/`,
    `/${path}`,
    path.toUpperCase(),
    `${path}%00`,
    `${path}/..%2f..%2fetc%2fpasswd`,
    path.replace("/v1/", "/v1/./"),
    path.replace("/v1/", "/v2/"),
    `${path}?${"a=1&".repeat(2000)}`,
    `${path}/${"x".repeat(r.pick([100, 8000]))}`,
    `${path}#frag`,
    path.replace(/\/[^/]*$/, "/%ff%fe"),
  ]);
}

function query(r: Rng, q: Record<string, string>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (r.chance(0.7)) p.append(k, r.chance(0.5) ? (JSON.stringify(nasty(r)) ?? "") : v);
    if (r.chance(0.2)) p.append(k, "again");
  }
  return p.size || r.chance(0.5) ? `?${p}` : "";
}

export function mutateRequest(r: Rng, s: Shape): Mutated {
  let method = s.method;
  let path = s.path + (s.query ? query(r, s.query) : "");
  const headers: Record<string, string> = {};
  let body: Buffer | undefined;
  const labels: string[] = [];
  if (s.body !== undefined) {
    const valid = r.chance(0.05);
    const { value, label } = valid ? { value: s.body, label: "valid" } : mutateJson(r, s.body);
    labels.push(label);
    body = Buffer.from(JSON.stringify(value) ?? "");
    if (r.chance(0.15)) {
      const m = mutateBytes(r, body);
      body = m.body;
      labels.push(m.label);
    }
  } else if (r.chance(0.3)) {
    body = Buffer.from(JSON.stringify(nasty(r)) ?? "");
    labels.push("body on a GET");
  }
  const ct = r.chance(0.8) ? "application/json" : r.pick(CONTENT_TYPES);
  if (ct) headers["content-type"] = ct;
  if (r.chance(0.08)) {
    method = r.pick(METHODS);
    labels.push(`method ${method}`);
  }
  if (r.chance(0.08)) {
    path = mutatePath(r, path);
    labels.push("path");
  }
  if (method === "GET" || method === "HEAD") body = undefined;
  return { method, path, headers, ...(body ? { body } : {}), label: labels.join(" ") };
}
