// CA pins: "sha256:<hex>" of a CA certificate's SubjectPublicKeyInfo, as the reference's
// `tctl status` prints and `--ca-pin` takes. Computed with node:crypto so that the agent's
// first-contact path does not load the X.509 library.

import { createHash, X509Certificate } from "node:crypto";

export function caPinOfCert(certPem: string): string {
  const spki = new X509Certificate(certPem).publicKey.export({ type: "spki", format: "der" });
  return `sha256:${createHash("sha256").update(spki).digest("hex")}`;
}

export function isCaPin(s: string): boolean {
  return /^sha256:[0-9a-f]{64}$/.test(s);
}

/** Constant-time-ish comparison is unnecessary for pins (public values); plain equality suffices. */
export function pinMatches(certPem: string, pins: readonly string[]): boolean {
  const p = caPinOfCert(certPem);
  return pins.some((x) => x.toLowerCase() === p);
}
