// PEM armour shared by everything that writes or reads keys and certificates.

import { toBase64 } from "./bytes.ts";

export function pemEncode(label: string, der: Uint8Array | ArrayBuffer): string {
  const b64 = toBase64(der);
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

export interface PemBlock {
  label: string;
  /** Freshly decoded, so backed by its own ArrayBuffer (usable as a WebCrypto BufferSource). */
  der: Uint8Array<ArrayBuffer>;
  text: string;
}

/** All PEM blocks in a text, in order. A block without its END line is an error. */
export function pemBlocks(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  const re = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    out.push({
      label: m[1]!,
      der: new Uint8Array(Buffer.from(m[2]!.replace(/\s+/g, ""), "base64")),
      text: `${m[0]}\n`,
    });
  }
  return out;
}

export function pemDecode(text: string, label: string): Uint8Array<ArrayBuffer> {
  const block = pemBlocks(text).find((b) => b.label === label);
  if (!block) throw new Error(`no "${label}" PEM block found`);
  return block.der;
}
