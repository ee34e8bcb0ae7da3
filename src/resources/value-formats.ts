// Small format checks shared by the resource rules. Each returns a problem description
// (to be prefixed with the field's path) or undefined when the value is fine.

const rfc3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** RFC 3339 as Go's time.RFC3339 accepts it: "2025-12-01T00:00:00Z", "…+02:00". */
export function rfc3339Problem(text: string): string | undefined {
  const m = rfc3339.exec(text);
  const bad = `must be an RFC 3339 time such as "2025-12-01T00:00:00Z", got "${text}"`;
  if (!m) return bad;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as number[];
  // Date.UTC rolls 31 February over into March; a round trip catches impossible dates.
  const d = new Date(Date.UTC(year!, month! - 1, day!));
  const dateOk = d.getUTCFullYear() === year && d.getUTCMonth() === month! - 1 && d.getUTCDate() === day;
  if (!dateOk || hour! > 23 || minute! > 59 || second! > 59) return bad;
  return undefined;
}

/** SHA-256 of the EK public key, hex, as `tbot tpm identify` prints it. */
export function ekPublicHashProblem(text: string): string | undefined {
  if (/^[0-9a-fA-F]{64}$/.test(text)) return undefined;
  return `must be 64 hex digits (the SHA-256 printed by "tbot tpm identify"), got ${text.length} characters "${text}"`;
}

/** EK certificate serial as colon-separated hex bytes: "73:df:dc:…". */
export function ekSerialProblem(text: string): string | undefined {
  if (/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2})*$/.test(text)) return undefined;
  return `must be colon-separated hex bytes such as "73:df:dc:bd", got "${text}"`;
}

const pemBlock = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END ([A-Z0-9 ]+)-----/g;

/** One or more PEM CERTIFICATE blocks. The certificates themselves are parsed by the server. */
export function pemCertificatesProblem(text: string): string | undefined {
  const blocks = [...text.matchAll(pemBlock)];
  if (blocks.length === 0)
    return "must be a PEM certificate (-----BEGIN CERTIFICATE----- … -----END CERTIFICATE-----)";
  for (const [, begin, body, end] of blocks) {
    if (begin !== end) return `has a PEM block that begins as ${begin} but ends as ${end}`;
    if (begin !== "CERTIFICATE") return `must contain only CERTIFICATE PEM blocks, found a ${begin} block`;
    const base64 = body!.replace(/\s+/g, "");
    if (base64 === "" || !/^[A-Za-z0-9+/]+={0,2}$/.test(base64) || base64.length % 4 !== 0)
      return "has a CERTIFICATE block whose body is not valid base64";
  }
  return undefined;
}
