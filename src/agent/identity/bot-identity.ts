// The bot's own (internal) identity on the agent side: private key, certificates and the
// cluster's CAs, kept in storage under the reference's file names (Appendix A).

import { createHash } from "node:crypto";
import { generateKeyPair, importPrivateKeyPem, privateKeyPem, publicKeyPem } from "../../crypto/keys.ts";
import { sshPublicKeyLine } from "../../crypto/ssh/index.ts";
import { parseTlsIdentity, type TlsIdentity } from "../../crypto/tls-identity.ts";
import type { Certificates, PublicKeys } from "../../protocol/messages.ts";
import type { Store } from "../storage/store.ts";

export interface BotIdentity {
  keyPem: string;
  sshPublicKey: string;
  sshCert: string;
  tlsCertPem: string;
  /** Host CA certificates: what we trust for the auth server. */
  tlsCaPems: string[];
  /** Host CA SSH keys. */
  sshCaKeys: string[];
  tls: TlsIdentity;
}

export interface FreshKey {
  keyPem: string;
  publicKeys: PublicKeys;
}

/** A new key pair for one request: the bot never reuses a key across renewals. */
export async function freshKey(): Promise<FreshKey> {
  const pair = await generateKeyPair("ecdsa-p256");
  const [keyPem, tls, ssh] = await Promise.all([
    privateKeyPem(pair.privateKey),
    publicKeyPem(pair.publicKey),
    sshPublicKeyLine(pair.publicKey),
  ]);
  return { keyPem, publicKeys: { tls_public_key: tls, ssh_public_key: ssh } };
}

/** The FreshKey of a stored private key (PEM), to send the same key again. */
export async function keyFromPem(pem: string): Promise<FreshKey> {
  const pair = await importPrivateKeyPem(pem);
  const [tls, ssh] = await Promise.all([publicKeyPem(pair.publicKey), sshPublicKeyLine(pair.publicKey)]);
  return { keyPem: pem, publicKeys: { tls_public_key: tls, ssh_public_key: ssh } };
}

export function identityFrom(key: FreshKey, certs: Certificates): BotIdentity {
  return {
    keyPem: key.keyPem,
    sshPublicKey: key.publicKeys.ssh_public_key,
    sshCert: certs.ssh_cert,
    tlsCertPem: certs.tls_cert,
    tlsCaPems: certs.tls_ca_certs,
    sshCaKeys: certs.ssh_ca_keys,
    tls: parseTlsIdentity(certs.tls_cert),
  };
}

export const tokenHash = (token: string) => createHash("sha256").update(token).digest("hex");
/** What `tokenfile` in storage holds: the hash of the absolute path a token was read from. */
export const tokenFileHash = (absPath: string) =>
  createHash("sha256").update(`file:${absPath}`).digest("hex");

/** What storage remembers about the token an identity was joined with. */
export interface TokenMarks {
  /** hex SHA-256 of the token (the reference's `tokenhash`); "" for other join methods. */
  tokenHash: string;
  /** tokenFileHash of the file the token was read from, when it came from a file. */
  tokenFile?: string;
  /**
   * The token's name, for methods other than `token` (bound_keypair, tpm, ...) when it was read
   * from a file: those names are not secret, and every refresh re-joins with it, so a file
   * deleted after the join (as the reference allows) must not leave the bot without it.
   */
  tokenName?: string;
}

// Appendix A keeps CA lists "$"-separated in one file; so do we.
const SEP = "$";

export async function saveIdentity(store: Store, id: BotIdentity, marks: TokenMarks): Promise<void> {
  await store.writeSet("storage", {
    key: id.keyPem,
    "key.pub": `${id.sshPublicKey}\n`,
    "key-cert.pub": `${id.sshCert}\n`,
    tlscert: id.tlsCertPem,
    tlscacerts: id.tlsCaPems.join(SEP),
    sshcacerts: id.sshCaKeys.join(SEP),
    tokenhash: marks.tokenHash,
    // Only for a token read from a file: a literal token leaves storage as the reference has it.
    ...(marks.tokenFile ? { tokenfile: marks.tokenFile } : {}),
    ...(marks.tokenName ? { tokenname: `${marks.tokenName}\n` } : {}),
  });
}

export interface StoredIdentity extends TokenMarks {
  identity: BotIdentity;
}

export async function loadIdentity(store: Store): Promise<StoredIdentity | null> {
  const [key, pub, cert, tls, cas, sshcas, th, tf, tn] = await Promise.all(
    [
      "key",
      "key.pub",
      "key-cert.pub",
      "tlscert",
      "tlscacerts",
      "sshcacerts",
      "tokenhash",
      "tokenfile",
      "tokenname",
    ].map((n) => store.read(n)),
  );
  if (!key || !tls || !cas) return null;
  try {
    return {
      identity: {
        keyPem: key,
        sshPublicKey: (pub ?? "").trim(),
        sshCert: (cert ?? "").trim(),
        tlsCertPem: tls,
        tlsCaPems: cas.split(SEP).filter(Boolean),
        sshCaKeys: (sshcas ?? "").split(SEP).filter(Boolean),
        tls: parseTlsIdentity(tls),
      },
      tokenHash: (th ?? "").trim(),
      ...(tf?.trim() ? { tokenFile: tf.trim() } : {}),
      ...(tn?.trim() ? { tokenName: tn.trim() } : {}),
    };
  } catch {
    return null; // unreadable leftovers: treat as no identity and join again
  }
}

export function isExpired(id: BotIdentity, now = Date.now()): boolean {
  return id.tls.notAfter.getTime() <= now;
}
