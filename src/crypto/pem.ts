// PEM armour and base64 helpers shared by everything that writes or reads keys and certificates.

export function toBase64(data: Uint8Array | ArrayBuffer): string {
  return Buffer.from(data instanceof ArrayBuffer ? new Uint8Array(data) : data).toString("base64");
}

export function fromBase64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, "base64"));
}

export function pemEncode(label: string, der: Uint8Array | ArrayBuffer): string {
  const b64 = toBase64(der);
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

export interface PemBlock {
  label: string;
  der: Uint8Array;
  text: string;
}

/** All PEM blocks in a text, in order. A block without its END line is an error. */
export function pemBlocks(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  const re = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    out.push({ label: m[1]!, der: fromBase64(m[2]!.replace(/\s+/g, "")), text: `${m[0]}\n` });
  }
  return out;
}

export function pemDecode(text: string, label: string): Uint8Array {
  const block = pemBlocks(text).find((b) => b.label === label);
  if (!block) throw new Error(`no "${label}" PEM block found`);
  return block.der;
}

export function hex(data: Uint8Array | ArrayBuffer): string {
  return Buffer.from(data instanceof ArrayBuffer ? new Uint8Array(data) : data).toString("hex");
}
