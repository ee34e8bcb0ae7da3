// Protobuf wire encoding of the SPIFFE Workload API messages (proto/workload.proto), by hand.
// Why not @grpc/proto-loader: the five request messages have at most two string fields and the
// responses are bytes, strings, maps and google.protobuf.Struct; a few dozen lines here avoid
// parsing a .proto at run time (and embedding it plus struct.proto in the compiled binary).
// The tests' Node (protobufjs) and Python (protobuf C++/upb) clients decode what this writes.

const WT_VARINT = 0;
const WT_I64 = 1;
const WT_LEN = 2;
const WT_I32 = 5;

const utf8 = new TextEncoder();
const utf8d = new TextDecoder("utf-8", { fatal: true });

/** Thrown on a malformed request; the server answers InvalidArgument. */
export class DecodeError extends Error {}

class Writer {
  private parts: Uint8Array[] = [];
  private size = 0;

  private push(b: Uint8Array): void {
    this.parts.push(b);
    this.size += b.length;
  }

  varint(n: number): void {
    const out: number[] = [];
    let v = n;
    while (v >= 0x80) {
      out.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    out.push(v);
    this.push(Uint8Array.from(out));
  }

  private tag(field: number, wt: number): void {
    this.varint(field * 8 + wt);
  }

  bytes(field: number, b: Uint8Array, keepEmpty = false): void {
    if (b.length === 0 && !keepEmpty) return;
    this.tag(field, WT_LEN);
    this.varint(b.length);
    this.push(b);
  }

  string(field: number, s: string | undefined, keepEmpty = false): void {
    if (s === undefined) return;
    this.bytes(field, utf8.encode(s), keepEmpty);
  }

  message(field: number, w: Writer): void {
    this.bytes(field, w.finish(), true);
  }

  double(field: number, n: number): void {
    this.tag(field, WT_I64);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, n, true);
    this.push(b);
  }

  enumOrBool(field: number, n: number): void {
    this.tag(field, WT_VARINT);
    this.varint(n);
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let off = 0;
    for (const p of this.parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }
}

interface Field {
  field: number;
  wt: number;
  bytes?: Uint8Array;
}

function readVarint(buf: Uint8Array, pos: { i: number }): number {
  let result = 0;
  let mul = 1;
  for (let n = 0; n < 10; n++) {
    if (pos.i >= buf.length) throw new DecodeError("truncated varint");
    const b = buf[pos.i++] as number;
    result += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) return result;
    mul *= 0x80;
  }
  throw new DecodeError("varint too long");
}

/** The fields of one message, unknown ones included (callers skip what they do not know). */
function fields(buf: Uint8Array): Field[] {
  const out: Field[] = [];
  const pos = { i: 0 };
  while (pos.i < buf.length) {
    const key = readVarint(buf, pos);
    const field = Math.floor(key / 8);
    const wt = key % 8;
    if (field === 0) throw new DecodeError("field number 0");
    if (wt === WT_VARINT) readVarint(buf, pos);
    else if (wt === WT_I64) pos.i += 8;
    else if (wt === WT_I32) pos.i += 4;
    else if (wt === WT_LEN) {
      const len = readVarint(buf, pos);
      if (pos.i + len > buf.length) throw new DecodeError("truncated field");
      out.push({ field, wt, bytes: buf.subarray(pos.i, pos.i + len) });
      pos.i += len;
      continue;
    } else throw new DecodeError(`unsupported wire type ${wt}`);
    if (pos.i > buf.length) throw new DecodeError("truncated field");
    out.push({ field, wt });
  }
  return out;
}

function str(f: Field): string {
  if (f.wt !== WT_LEN || !f.bytes) throw new DecodeError(`field ${f.field}: expected a string`);
  try {
    return utf8d.decode(f.bytes);
  } catch {
    throw new DecodeError(`field ${f.field}: invalid UTF-8`);
  }
}

// ---- requests ----

/** X509SVIDRequest, X509BundlesRequest, JWTBundlesRequest: no fields; unknown ones are ignored. */
export function decodeEmpty(buf: Uint8Array): Record<string, never> {
  fields(buf);
  return {};
}

export interface JwtSvidRequest {
  audience: string[];
  spiffeId: string;
}

export function decodeJwtSvidRequest(buf: Uint8Array): JwtSvidRequest {
  const req: JwtSvidRequest = { audience: [], spiffeId: "" };
  for (const f of fields(buf)) {
    if (f.field === 1) req.audience.push(str(f));
    else if (f.field === 2) req.spiffeId = str(f);
  }
  return req;
}

export interface ValidateJwtSvidRequest {
  audience: string;
  svid: string;
}

export function decodeValidateJwtSvidRequest(buf: Uint8Array): ValidateJwtSvidRequest {
  const req: ValidateJwtSvidRequest = { audience: "", svid: "" };
  for (const f of fields(buf)) {
    if (f.field === 1) req.audience = str(f);
    else if (f.field === 2) req.svid = str(f);
  }
  return req;
}

// ---- responses ----

export interface X509SvidMessage {
  spiffeId: string;
  /** DER certificates, leaf first. */
  chain: Uint8Array[];
  /** PKCS#8 DER. */
  key: Uint8Array;
  /** The trust domain's CA certificates, DER. */
  bundle: Uint8Array[];
  hint?: string;
}

function concat(list: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(list.reduce((n, b) => n + b.length, 0));
  let off = 0;
  for (const b of list) {
    out.set(b, off);
    off += b.length;
  }
  return out;
}

function mapEntries(w: Writer, field: number, map: Map<string, Uint8Array>): void {
  for (const [k, v] of [...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const e = new Writer();
    e.string(1, k);
    e.bytes(2, v);
    w.message(field, e);
  }
}

export function encodeX509SvidResponse(r: {
  svids: X509SvidMessage[];
  crl?: Uint8Array[];
  federatedBundles?: Map<string, Uint8Array[]>;
}): Uint8Array {
  const w = new Writer();
  for (const s of r.svids) {
    const m = new Writer();
    m.string(1, s.spiffeId);
    m.bytes(2, concat(s.chain));
    m.bytes(3, s.key);
    m.bytes(4, concat(s.bundle));
    m.string(5, s.hint);
    w.message(1, m);
  }
  for (const c of r.crl ?? []) w.bytes(2, c, true);
  const fed = new Map([...(r.federatedBundles ?? [])].map(([k, v]) => [k, concat(v)]));
  mapEntries(w, 3, fed);
  return w.finish();
}

export function encodeX509BundlesResponse(r: {
  bundles: Map<string, Uint8Array[]>;
  crl?: Uint8Array[];
}): Uint8Array {
  const w = new Writer();
  for (const c of r.crl ?? []) w.bytes(1, c, true);
  mapEntries(w, 2, new Map([...r.bundles].map(([k, v]) => [k, concat(v)])));
  return w.finish();
}

export function encodeJwtSvidResponse(
  svids: { spiffeId: string; token: string; hint?: string }[],
): Uint8Array {
  const w = new Writer();
  for (const s of svids) {
    const m = new Writer();
    m.string(1, s.spiffeId);
    m.string(2, s.token);
    m.string(3, s.hint);
    w.message(1, m);
  }
  return w.finish();
}

export function encodeJwtBundlesResponse(bundles: Map<string, Uint8Array>): Uint8Array {
  const w = new Writer();
  mapEntries(w, 1, bundles);
  return w.finish();
}

// google.protobuf.Struct { map<string, Value> fields = 1 }
// Value { oneof kind { NullValue null_value = 1; double number_value = 2; string string_value = 3;
//                      bool bool_value = 4; Struct struct_value = 5; ListValue list_value = 6 } }
// ListValue { repeated Value values = 1 }
function encodeValue(v: unknown): Writer {
  const w = new Writer();
  if (v === null || v === undefined) w.enumOrBool(1, 0);
  else if (typeof v === "number") w.double(2, v);
  else if (typeof v === "string") w.string(3, v, true);
  else if (typeof v === "boolean") w.enumOrBool(4, v ? 1 : 0);
  else if (Array.isArray(v)) {
    const l = new Writer();
    for (const item of v) l.message(1, encodeValue(item));
    w.message(6, l);
  } else if (typeof v === "object") w.message(5, encodeStruct(v as Record<string, unknown>));
  else w.string(3, String(v), true);
  return w;
}

function encodeStruct(obj: Record<string, unknown>): Writer {
  const w = new Writer();
  for (const [k, v] of Object.entries(obj)) {
    const e = new Writer();
    e.string(1, k);
    e.message(2, encodeValue(v));
    w.message(1, e);
  }
  return w;
}

export function encodeValidateJwtSvidResponse(r: {
  spiffeId: string;
  claims: Record<string, unknown>;
}): Uint8Array {
  const w = new Writer();
  w.string(1, r.spiffeId);
  w.message(2, encodeStruct(r.claims));
  return w.finish();
}

// ---- for the unit tests: a generic reader of what the encoders write ----

/** Length-delimited fields of `buf` as [field number, bytes] pairs (tests only). */
export function lengthDelimited(buf: Uint8Array): [number, Uint8Array][] {
  return fields(buf)
    .filter((f) => f.bytes)
    .map((f) => [f.field, f.bytes as Uint8Array]);
}
