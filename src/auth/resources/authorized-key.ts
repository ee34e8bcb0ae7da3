// Checks an SSH public key in authorized_keys form ("ssh-ed25519 AAAA… comment"), the form
// `tbot keypair create` prints and bound-keypair tokens carry. The check decodes the wire
// blob so that a truncated or mistyped paste is caught when the token is created, not when
// the bot first tries to join.

const curveOf: Record<string, { curve: string; pointBytes: number }> = {
  "ecdsa-sha2-nistp256": { curve: "nistp256", pointBytes: 65 },
  "ecdsa-sha2-nistp384": { curve: "nistp384", pointBytes: 97 },
  "ecdsa-sha2-nistp521": { curve: "nistp521", pointBytes: 133 },
};

export const supportedKeyTypes = ["ssh-ed25519", ...Object.keys(curveOf), "ssh-rsa"] as const;

/** A description of what is wrong, or undefined for a well-formed key. */
export function authorizedKeyProblem(line: string): string | undefined {
  // Anything after the base64 is a free-text comment.
  const [type, base64] = line.trim().split(/\s+/);
  if (!type || !base64) return 'expected "<type> <base64> [comment]", e.g. "ssh-ed25519 AAAAC3Nza… bot"';
  if (!(supportedKeyTypes as readonly string[]).includes(type))
    return `key type "${type}" is not one of ${supportedKeyTypes.join(", ")}`;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64) || base64.length % 4 !== 0)
    return "the key data is not valid base64";
  const blob = new WireReader(Buffer.from(base64, "base64"));
  try {
    const innerType = blob.string().toString("latin1");
    if (innerType !== type) return `the key data says "${innerType}" but the line says "${type}"`;
    if (type === "ssh-ed25519") {
      if (blob.string().length !== 32) return "an ed25519 key must be 32 bytes";
    } else if (type === "ssh-rsa") {
      blob.string(); // public exponent
      if (blob.string().length < 128) return "the RSA modulus is too short (need at least 1024 bits)";
    } else {
      const expected = curveOf[type]!;
      if (blob.string().toString("latin1") !== expected.curve) return `the curve name does not match ${type}`;
      const point = blob.string();
      if (point.length !== expected.pointBytes || point[0] !== 4)
        return `the ${expected.curve} point is malformed`;
    }
    if (!blob.done()) return "the key data has trailing bytes";
  } catch {
    return "the key data is truncated";
  }
  return undefined;
}

/** SSH wire format: uint32 big-endian length, then that many bytes. */
class WireReader {
  private at = 0;
  constructor(private readonly bytes: Buffer) {}
  string(): Buffer {
    if (this.at + 4 > this.bytes.length) throw new RangeError("truncated");
    const length = this.bytes.readUInt32BE(this.at);
    const end = this.at + 4 + length;
    if (end > this.bytes.length) throw new RangeError("truncated");
    const out = this.bytes.subarray(this.at + 4, end);
    this.at = end;
    return out;
  }
  done(): boolean {
    return this.at === this.bytes.length;
  }
}
