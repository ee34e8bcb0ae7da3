// TPM 2.0 wire format (Part 2 §5): big-endian integers and TPM2B buffers, each a uint16 size
// followed by that many bytes. Reading is strict: a short buffer or left-over bytes is an
// error, because every structure here arrives from an untrusted client.

export class TpmWireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TpmWireError";
  }
}

export class TpmReader {
  private at = 0;
  constructor(
    private readonly buf: Uint8Array,
    /** What is being read, for error messages ("TPMT_PUBLIC"). */
    readonly what: string,
  ) {}

  get offset(): number {
    return this.at;
  }

  get remaining(): number {
    return this.buf.length - this.at;
  }

  private take(n: number, field: string): Uint8Array {
    if (n > this.remaining)
      throw new TpmWireError(
        `${this.what} is truncated: ${field} needs ${n} bytes at offset ${this.at}, ${this.remaining} left`,
      );
    const out = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }

  u8(field: string): number {
    return this.take(1, field)[0]!;
  }

  u16(field: string): number {
    const b = this.take(2, field);
    return (b[0]! << 8) | b[1]!;
  }

  u32(field: string): number {
    const b = this.take(4, field);
    return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
  }

  u64(field: string): bigint {
    const hi = BigInt(this.u32(field));
    return (hi << 32n) | BigInt(this.u32(field));
  }

  /** `n` raw bytes, copied so the result outlives the input buffer. */
  bytes(n: number, field: string): Uint8Array {
    return this.take(n, field).slice();
  }

  /** A TPM2B: uint16 size, then the bytes (returned without the size). */
  tpm2b(field: string, maxSize = 0xffff): Uint8Array {
    const size = this.u16(`${field} size`);
    if (size > maxSize)
      throw new TpmWireError(`${this.what}: ${field} is ${size} bytes, at most ${maxSize} allowed`);
    return this.bytes(size, field);
  }

  /** The bytes read so far since `start` (e.g. to hash a sub-structure exactly as sent). */
  since(start: number): Uint8Array {
    return this.buf.slice(start, this.at);
  }

  /** Require that nothing is left: trailing bytes mean the sender and we disagree on the layout. */
  end(): void {
    if (this.remaining !== 0)
      throw new TpmWireError(`${this.what} has ${this.remaining} unexpected trailing bytes`);
  }
}

export class TpmWriter {
  private readonly parts: Uint8Array[] = [];
  private length = 0;

  private push(b: Uint8Array): this {
    this.parts.push(b);
    this.length += b.length;
    return this;
  }

  u8(v: number): this {
    return this.push(Uint8Array.of(v & 0xff));
  }

  u16(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new RangeError(`not a uint16: ${v}`);
    return this.push(Uint8Array.of(v >>> 8, v & 0xff));
  }

  u32(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`not a uint32: ${v}`);
    return this.push(Uint8Array.of(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff));
  }

  u64(v: bigint): this {
    return this.u32(Number((v >> 32n) & 0xffffffffn)).u32(Number(v & 0xffffffffn));
  }

  bytes(b: Uint8Array): this {
    return this.push(b.slice());
  }

  tpm2b(b: Uint8Array): this {
    return this.u16(b.length).bytes(b);
  }

  finish(): Uint8Array<ArrayBuffer> {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

/** `body` wrapped as a TPM2B (uint16 size prefix). */
export const tpm2b = (body: Uint8Array): Uint8Array<ArrayBuffer> => new TpmWriter().tpm2b(body).finish();

/** The body of a TPM2B given with its size prefix; the size must cover the rest exactly. */
export function unwrapTpm2b(wire: Uint8Array, what: string): Uint8Array {
  const r = new TpmReader(wire, what);
  const body = r.tpm2b(what);
  r.end();
  return body;
}
