// The "openssh-key-v1" private key file (PROTOCOL.key), unencrypted, as ssh and sshd read it.
import { concatBytes, toBase64 } from "../bytes.ts";
import { SshFormatError } from "./errors.ts";
import { encodePublicKeyBlob, sshTypeOfWebCryptoKey } from "./public-key.ts";
import { SshWriter } from "./wire.ts";

const MAGIC = new TextEncoder().encode("openssh-key-v1\0");
// Cipher "none" pads the private section to a multiple of 8, the block size OpenSSH assumes for it.
const BLOCK_SIZE = 8;
// ssh-keygen wraps the base64 body at 70 columns.
const LINE_WIDTH = 70;

function fromBase64Url(text: string | undefined, field: string): Uint8Array {
  if (!text) throw new SshFormatError(`the exported private key has no "${field}"`);
  return new Uint8Array(Buffer.from(text, "base64url"));
}

/** The private-key fields after the key type name, taken from the JWK export. */
async function privateFields(pair: CryptoKeyPair): Promise<{ type: string; fields: Uint8Array }> {
  if (!pair.privateKey.extractable) {
    throw new SshFormatError(
      "the private key is not extractable; generate or import it with extractable=true",
    );
  }
  const { type, curve } = sshTypeOfWebCryptoKey(pair.privateKey);
  const publicType = sshTypeOfWebCryptoKey(pair.publicKey).type;
  if (publicType !== type) {
    throw new SshFormatError(`key pair mismatch: ${type} private key with ${publicType} public key`);
  }
  const jwk = await crypto.subtle.exportKey("jwk", pair.privateKey);
  const publicRaw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  const derivedPublic = curve
    ? concatBytes(new Uint8Array([4]), fromBase64Url(jwk.x, "x"), fromBase64Url(jwk.y, "y"))
    : fromBase64Url(jwk.x, "x");
  if (Buffer.compare(derivedPublic, publicRaw) !== 0) {
    throw new SshFormatError("key pair mismatch: the public key does not belong to the private key");
  }
  const d = fromBase64Url(jwk.d, "d");
  const w = new SshWriter();
  if (curve) {
    w.string(curve.sshName).string(publicRaw).mpint(d);
  } else {
    // OpenSSH keeps the Ed25519 secret as seed||public (64 bytes), like the reference implementation.
    w.string(publicRaw).string(concatBytes(d, publicRaw));
  }
  return { type, fields: w.finish() };
}

/** An unencrypted OpenSSH private key file for an Ed25519 or ECDSA WebCrypto key pair. */
export async function encodeOpenSshPrivateKey(pair: CryptoKeyPair, comment = ""): Promise<string> {
  const { type, fields } = await privateFields(pair);
  // Two equal random check words let a reader notice a wrong passphrase; kept for the format's sake.
  const check = crypto.getRandomValues(new Uint32Array(1))[0] as number;
  const section = new SshWriter()
    .uint32(check)
    .uint32(check)
    .string(type)
    .bytes(fields)
    .string(comment)
    .finish();
  const padLength = (BLOCK_SIZE - (section.length % BLOCK_SIZE)) % BLOCK_SIZE;
  const padding = Uint8Array.from({ length: padLength }, (_, i) => i + 1);

  const file = new SshWriter()
    .bytes(MAGIC)
    .string("none") // cipher
    .string("none") // kdf
    .string("") // kdf options
    .uint32(1) // number of keys
    .string(await encodePublicKeyBlob(pair.publicKey))
    .string(concatBytes(section, padding))
    .finish();
  const body = toBase64(file).match(new RegExp(`.{1,${LINE_WIDTH}}`, "g")) ?? [];
  return ["-----BEGIN OPENSSH PRIVATE KEY-----", ...body, "-----END OPENSSH PRIVATE KEY-----", ""].join("\n");
}
