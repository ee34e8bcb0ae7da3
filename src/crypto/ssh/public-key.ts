// Public key blobs: reading and checking the fields of every type we know, and writing the
// blob of a WebCrypto key (Ed25519, ECDSA).
import { webCryptoBytes } from "../bytes.ts";
import { curveBySshName, curveByWebCryptoName, type EcdsaCurve } from "./ecdsa.ts";
import { SshFormatError, shownName } from "./errors.ts";
import { describeKnownTypes, isCertType, keyTypes } from "./key-types.ts";
import { decodeKeyLine, formatKeyLine } from "./line.ts";
import { SshReader, SshWriter } from "./wire.ts";

export interface PublicKeyFields {
  type: string;
  /** Field values in wire order: string bytes, or the unsigned magnitude of an mpint. */
  values: Uint8Array[];
  /** The exact wire bytes of the fields (what follows the type name in a key blob). */
  raw: Uint8Array;
}

/** Read and check the key fields of `plainType` (they follow the type name, or a certificate's nonce). */
export function readKeyFields(r: SshReader, plainType: string): PublicKeyFields {
  const info = keyTypes[plainType];
  if (!info) {
    throw new SshFormatError(
      `unknown key type ${shownName(plainType)}; known types: ${describeKnownTypes()}`,
    );
  }
  const start = r.position;
  const values = info.fields.map((f) => (f.kind === "mpint" ? r.mpint(f.name) : r.string(f.name)));
  checkKeyValues(plainType, values);
  return { type: plainType, values, raw: r.consumedSince(start) };
}

function checkKeyValues(type: string, values: Uint8Array[]): void {
  const [first, second] = values as [Uint8Array, Uint8Array | undefined];
  if (type === "ssh-ed25519" || type === "sk-ssh-ed25519@openssh.com") {
    if (first.length !== 32) {
      throw new SshFormatError(`${type} public key must be 32 bytes, got ${first.length}`);
    }
  } else if (type.includes("ecdsa-sha2-")) {
    const curveName = new TextDecoder().decode(first);
    const curve = curveBySshName(curveName);
    if (!curve || !type.includes(curve.keyType)) {
      throw new SshFormatError(
        `${type} key names curve ${shownName(curveName)}, which does not belong to that key type`,
      );
    }
    const point = second as Uint8Array;
    if (point.length !== 1 + 2 * curve.size || point[0] !== 4) {
      throw new SshFormatError(
        `${type} public point must be an uncompressed ${curve.sshName} point (04||X||Y)`,
      );
    }
  } else if (type === "ssh-rsa" && (first.length === 0 || second?.length === 0)) {
    throw new SshFormatError("ssh-rsa key has a zero exponent or modulus");
  }
}

/** A whole plain public key blob. Certificates are refused: callers that want them parse certificates. */
export function parsePublicKeyBlob(blob: Uint8Array, what = "public key"): PublicKeyFields {
  const r = new SshReader(blob, what);
  const type = r.text("key type");
  if (isCertType(type)) {
    throw new SshFormatError(`${what} is a ${type} certificate where a plain public key is required`);
  }
  const fields = readKeyFields(r, type);
  r.expectEnd();
  return fields;
}

export function publicKeyBlobOf(fields: PublicKeyFields): Uint8Array {
  return new SshWriter().string(fields.type).bytes(fields.raw).finish();
}

/** The SSH key type of a WebCrypto Ed25519 or ECDSA key (public or private), with its curve for ECDSA. */
export function sshTypeOfWebCryptoKey(key: CryptoKey): { type: string; curve?: EcdsaCurve } {
  const alg = key.algorithm as { name: string; namedCurve?: string };
  if (alg.name === "Ed25519") return { type: "ssh-ed25519" };
  const curve = alg.name === "ECDSA" ? curveByWebCryptoName(alg.namedCurve ?? "") : undefined;
  if (!curve) {
    const shown = alg.namedCurve ? `${alg.name} ${alg.namedCurve}` : alg.name;
    throw new SshFormatError(`SSH keys here must be Ed25519 or ECDSA (P-256/384/521), not ${shown}`);
  }
  return { type: curve.keyType, curve };
}

/** The SSH public key blob of a WebCrypto Ed25519 or ECDSA public key. */
export async function encodePublicKeyBlob(pub: CryptoKey): Promise<Uint8Array> {
  if (pub.type !== "public") throw new SshFormatError(`expected a public key, got a ${pub.type} key`);
  const { type, curve } = sshTypeOfWebCryptoKey(pub);
  // "raw" is the 32-byte Ed25519 key, or the uncompressed 04||X||Y point that SSH also uses.
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pub));
  const w = new SshWriter().string(type);
  if (curve) w.string(curve.sshName);
  return w.string(raw).finish();
}

export async function sshPublicKeyLine(pub: CryptoKey): Promise<string> {
  return formatKeyLine(sshTypeOfWebCryptoKey(pub).type, await encodePublicKeyBlob(pub));
}

/** Parse a plain public key line into its checked fields. */
export function parsePublicKeyLine(line: string): PublicKeyFields {
  const { type, blob } = decodeKeyLine(line);
  if (isCertType(type)) {
    throw new SshFormatError(
      `expected a public key line, got a ${type} certificate (use its certified key instead)`,
    );
  }
  return parsePublicKeyBlob(blob, `${type} public key`);
}

/** A WebCrypto verify key for an Ed25519 or ECDSA key (RSA keys need a hash choice; see signature.ts). */
export async function importEcOrEdVerifyKey(key: PublicKeyFields): Promise<CryptoKey> {
  const [first, second] = key.values as [Uint8Array, Uint8Array | undefined];
  if (key.type === "ssh-ed25519") {
    return crypto.subtle.importKey("raw", webCryptoBytes(first), { name: "Ed25519" }, true, ["verify"]);
  }
  const curve = curveOfKey(key);
  if (curve && second) {
    return crypto.subtle.importKey(
      "raw",
      webCryptoBytes(second),
      { name: "ECDSA", namedCurve: curve.webCryptoName },
      true,
      ["verify"],
    );
  }
  throw new SshFormatError(
    `cannot import a ${key.type} key into WebCrypto; only ssh-ed25519 and ecdsa-sha2-* keys`,
  );
}

/** The curve of a plain ecdsa-sha2-* key (undefined for other types, including FIDO sk-ecdsa keys). */
export function curveOfKey(key: PublicKeyFields): EcdsaCurve | undefined {
  if (!key.type.startsWith("ecdsa-sha2-")) return undefined;
  return curveBySshName(new TextDecoder().decode(key.values[0]));
}

/** Import the public key in an authorized_keys line as a WebCrypto verify key. */
export async function importSshPublicKey(line: string): Promise<CryptoKey> {
  const key = parsePublicKeyLine(line);
  if (key.type === "ssh-rsa") return importRsaVerifyKey(key);
  return importEcOrEdVerifyKey(key);
}

/**
 * ssh-rsa (e, n) as an RS256 (RSASSA-PKCS1-v1_5, SHA-256) verify key: what bound-keypair
 * challenge answers by RSA keys use. mpints carry a leading zero byte when the top bit is set;
 * JWK wants the bare big-endian magnitude.
 */
async function importRsaVerifyKey(key: PublicKeyFields): Promise<CryptoKey> {
  const [e, n] = key.values as [Uint8Array, Uint8Array];
  const bare = (b: Uint8Array) => {
    let i = 0;
    while (i < b.length - 1 && b[i] === 0) i++;
    return Buffer.from(b.subarray(i)).toString("base64url");
  };
  return crypto.subtle.importKey(
    "jwk",
    { kty: "RSA", n: bare(n), e: bare(e), ext: true },
    { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
    true,
    ["verify"],
  );
}
