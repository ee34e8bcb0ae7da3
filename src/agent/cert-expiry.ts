// When an output's certificate expires: read by /metrics and by heartbeats.

import { X509Certificate } from "node:crypto";
import { parseSshCertificate } from "../crypto/ssh/certificate.ts";

/** The notAfter (unix ms) of a PEM TLS certificate, else of an SSH certificate; undefined if unreadable. */
export function certificateExpiry(certs: { tls?: string; ssh?: string }): number | undefined {
  try {
    if (certs.tls) {
      const t = Date.parse(new X509Certificate(certs.tls).validTo);
      return Number.isNaN(t) ? undefined : t;
    }
    if (certs.ssh) {
      const v = parseSshCertificate(certs.ssh).validBefore;
      return v === "forever" ? undefined : v.getTime();
    }
  } catch {}
  return undefined;
}
