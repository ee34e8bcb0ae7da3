// Byte helpers shared by everything that encodes keys, certificates and signatures.

/** The bytes of `data` as a Uint8Array view (no copy). */
function view(data: Uint8Array | ArrayBuffer): Uint8Array {
  return data instanceof ArrayBuffer ? new Uint8Array(data) : data;
}

function encode(data: Uint8Array | ArrayBuffer, encoding: "base64" | "base64url" | "hex"): string {
  const v = view(data);
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString(encoding);
}

export const toBase64 = (data: Uint8Array | ArrayBuffer): string => encode(data, "base64");
export const toBase64Url = (data: Uint8Array | ArrayBuffer): string => encode(data, "base64url");
export const hex = (data: Uint8Array | ArrayBuffer): string => encode(data, "hex");

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * A copy backed by a plain ArrayBuffer: WebCrypto's BufferSource type excludes views that may
 * sit on a SharedArrayBuffer, which a subarray of arbitrary input (or a pooled Buffer) could.
 * Our blobs are small.
 */
export function webCryptoBytes(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes);
}
