// The all-in-one identity file (reference §8.2): private key PEM, the SSH certificate line,
// the TLS certificate PEM, @cert-authority lines, then TLS CA PEMs. Used by the identity
// output, by tauth's admin identity and read by tctl (-i / --identity).

import { pemBlocks } from "./pem.ts";

export interface IdentityFileParts {
  privateKeyPem: string;
  sshCert: string;
  tlsCertPem: string;
  /** Complete known_hosts lines ("@cert-authority ... type=host"). */
  sshCaLines: string[];
  tlsCaPems: string[];
}

const withNewline = (s: string) => (s.endsWith("\n") ? s : `${s}\n`);

export function renderIdentityFile(p: IdentityFileParts): string {
  return [p.privateKeyPem, p.sshCert, p.tlsCertPem, ...p.sshCaLines, ...p.tlsCaPems]
    .map(withNewline)
    .join("");
}

export function parseIdentityFile(text: string): IdentityFileParts {
  let sshCert = "";
  const sshCaLines: string[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    const first = line.split(" ")[0] ?? "";
    if (first.endsWith("-cert-v01@openssh.com")) sshCert = line;
    else if (first === "@cert-authority") sshCaLines.push(line);
  }
  const begins = (text.match(/-----BEGIN /g) ?? []).length;
  const blocks = pemBlocks(text);
  if (blocks.length !== begins) throw new Error("invalid PEM block (fragment) in identity file");
  if (blocks.length < 2) throw new Error("identity file must hold a private key and a TLS certificate");
  return {
    privateKeyPem: blocks[0]!.text,
    tlsCertPem: blocks[1]!.text,
    tlsCaPems: blocks.slice(2).map((b) => b.text),
    sshCert,
    sshCaLines,
  };
}

/** `@cert-authority <hosts> <key> type=host` (reference §8.3). */
export function certAuthorityLine(hosts: string[], keyLine: string): string {
  return `@cert-authority ${hosts.join(",")} ${keyLine.trim().split(" ").slice(0, 2).join(" ")} type=host`;
}
