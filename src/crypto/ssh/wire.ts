// The SSH wire encoding (RFC 4251 §5) that keys, certificates and signatures are made of.
// Reader errors name the field being read, so "truncated" says which part is missing.
import { concatBytes } from "../bytes.ts";
import { SshFormatError } from "./errors.ts";

const utf8 = new TextEncoder();
// Not fatal: key ids and principals are bytes to OpenSSH; show odd ones rather than refuse
// the whole certificate (the signature still covers the original bytes).
const utf8Lenient = new TextDecoder("utf-8", { fatal: false });

export const UINT64_MAX = 0xffff_ffff_ffff_ffffn;

/** mpint body: big-endian two's complement, shortest form; a positive value whose top bit is set gets a 0x00 in front. */
export function mpintFromUnsigned(magnitude: Uint8Array): Uint8Array {
  let start = 0;
  while (start < magnitude.length && magnitude[start] === 0) start++;
  const body = magnitude.subarray(start);
  if (body.length > 0 && (body[0] as number) & 0x80) return concatBytes(new Uint8Array([0]), body);
  return body;
}

/** The unsigned magnitude of an mpint body; rejects negative values and non-minimal encodings. */
export function unsignedFromMpint(body: Uint8Array, field: string): Uint8Array {
  if (body.length === 0) return body;
  const first = body[0] as number;
  if (first & 0x80) throw new SshFormatError(`${field}: negative mpint where a positive number is required`);
  if (first === 0) {
    if (body.length === 1 || !((body[1] as number) & 0x80)) {
      throw new SshFormatError(`${field}: mpint has a superfluous leading zero byte`);
    }
    return body.subarray(1);
  }
  return body;
}

export class SshWriter {
  private readonly parts: Uint8Array[] = [];

  bytes(raw: Uint8Array): this {
    this.parts.push(raw);
    return this;
  }
  uint32(value: number): this {
    // Byte by byte: a DataView per call (and the `buffer` it needs) was a hot spot of signing.
    return this.bytes(Uint8Array.of(value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff));
  }
  uint64(value: bigint): this {
    if (value < 0n || value > UINT64_MAX) throw new RangeError(`uint64 out of range: ${value}`);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, value);
    return this.bytes(b);
  }
  string(value: Uint8Array | string): this {
    const raw = typeof value === "string" ? utf8.encode(value) : value;
    return this.uint32(raw.length).bytes(raw);
  }
  /** An mpint from an unsigned big-endian magnitude (any leading zeros are dropped). */
  mpint(magnitude: Uint8Array): this {
    return this.string(mpintFromUnsigned(magnitude));
  }
  /** Strings packed one after another, all inside one string (certificate principals). */
  stringList(values: readonly string[]): this {
    const inner = new SshWriter();
    for (const v of values) inner.string(v);
    return this.string(inner.finish());
  }
  /** RFC 4251 name-list: comma-separated names in one string. */
  nameList(names: readonly string[]): this {
    return this.string(names.join(","));
  }
  finish(): Uint8Array {
    return concatBytes(...this.parts);
  }
}

export class SshReader {
  private offset = 0;
  private readonly view: DataView;

  /** `what` names the whole structure in error messages ("certificate", "public key"). */
  constructor(
    private readonly data: Uint8Array,
    private readonly what: string,
  ) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  get position(): number {
    return this.offset;
  }
  get remaining(): number {
    return this.data.length - this.offset;
  }

  /** The raw bytes read since `start` (an earlier `position`), to keep exact wire spans. */
  consumedSince(start: number): Uint8Array {
    return this.data.subarray(start, this.offset);
  }

  bytes(length: number, field: string): Uint8Array {
    if (length > this.remaining) {
      throw new SshFormatError(
        `${this.what} is truncated: ${field} needs ${length} bytes at offset ${this.offset}, only ${this.remaining} left`,
      );
    }
    const out = this.data.subarray(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }
  uint32(field: string): number {
    this.bytes(4, field);
    return this.view.getUint32(this.offset - 4);
  }
  uint64(field: string): bigint {
    this.bytes(8, field);
    return this.view.getBigUint64(this.offset - 8);
  }
  string(field: string): Uint8Array {
    return this.bytes(this.uint32(`length of ${field}`), field);
  }
  text(field: string): string {
    return utf8Lenient.decode(this.string(field));
  }
  /** The unsigned magnitude of an mpint (see unsignedFromMpint). */
  mpint(field: string): Uint8Array {
    return unsignedFromMpint(this.string(field), `${this.what}: ${field}`);
  }
  stringList(field: string): string[] {
    const inner = new SshReader(this.string(field), `${this.what}: ${field}`);
    const out: string[] = [];
    while (inner.remaining > 0) out.push(inner.text(`entry ${out.length + 1}`));
    return out;
  }
  nameList(field: string): string[] {
    const s = this.text(field);
    return s === "" ? [] : s.split(",");
  }
  /** Every structure we read has a fixed end; bytes after it mean we misread or were fed junk. */
  expectEnd(): void {
    if (this.remaining !== 0) {
      throw new SshFormatError(
        `${this.what} has ${this.remaining} unexpected trailing bytes at offset ${this.offset}`,
      );
    }
  }
}
