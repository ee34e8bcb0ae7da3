// `tctl auth sign --format=db|app --host=NAME[,NAME2] --ttl=…`: a server certificate for a
// database (db CA, as the reference's PostgreSQL guide makes one) or for an HTTPS service
// (app CA). tctl makes the key and sends only its public half. The answer carries the CA
// the server is to trust for its clients (the `.cas` file): db_client for a database,
// the app CA for an HTTPS service.

import { isIP } from "node:net";
import { parseDuration } from "../../util/duration.ts";
import { badParameter } from "../../util/errors.ts";
import type { AuthService } from "../service.ts";

/** The reference's `tctl auth sign` default. */
export const DEFAULT_SIGN_TTL_MS = 12 * 3600_000;
/** At most five years, and never past the CA (valid ten years from its creation). */
export const MAX_SIGN_TTL_MS = 5 * 365 * 86_400_000;

const hostPattern =
  /^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

export interface SignBody {
  format?: string;
  hosts?: string[];
  public_key?: string;
  ttl?: string;
}

export interface SignResult {
  /** The server certificate (PEM): PREFIX.crt. */
  cert: string;
  /** What the server trusts for its clients (PEM): PREFIX.cas. */
  cas: string;
  /** The CA that signed `cert` (PEM): what clients verify the server with. */
  server_ca: string;
  expires: string;
}

export async function signServerCert(svc: AuthService, b: SignBody, who: string): Promise<SignResult> {
  const format = b.format ?? "";
  if (format !== "db" && format !== "app") throw badParameter(`--format must be db or app, got "${format}"`);
  const hosts = (b.hosts ?? []).map((h) => h.trim()).filter(Boolean);
  if (!hosts.length)
    throw badParameter("--host is required: the server's DNS names or IP addresses, comma-separated");
  const ipAddresses = hosts.filter((h) => isIP(h) !== 0);
  const dnsNames = hosts.filter((h) => isIP(h) === 0);
  for (const h of dnsNames)
    if (h.length > 253 || !hostPattern.test(h))
      throw badParameter(`--host "${h}" is neither a DNS name nor an IP address`);
  let ttlMs = DEFAULT_SIGN_TTL_MS;
  if (b.ttl) {
    const v = parseDuration(b.ttl);
    if (typeof v === "string") throw badParameter(`--ttl: ${v}`);
    if (v <= 0) throw badParameter("--ttl must be positive");
    if (v > MAX_SIGN_TTL_MS) throw badParameter(`--ttl must be at most ${MAX_SIGN_TTL_MS / 3600_000}h`);
    ttlMs = v;
  }
  if (!b.public_key) throw badParameter("public_key is required");
  const a = svc.authorities;
  const ca = format === "db" ? a.db : a.app;
  const issued = await svc.issuer.issueLeaf({
    ca,
    publicKeyPem: b.public_key,
    commonName: hosts[0]!,
    organizations: [svc.clusterName],
    usage: "server",
    dnsNames,
    ipAddresses,
    requestedExpiry: new Date(svc.clock.now() + ttlMs),
    maxTtlMs: ttlMs,
    ceilingMs: MAX_SIGN_TTL_MS,
  });
  svc.audit.emit("cert.create", {
    cert_type: `${format}_server`,
    hosts,
    serial: issued.serial,
    expires: issued.expires.toISOString(),
    by: who,
  });
  return {
    cert: issued.cert,
    cas: format === "db" ? a.dbClient.tlsCert : a.app.tlsCert,
    server_ca: ca.tlsCert,
    expires: issued.expires.toISOString(),
  };
}
