// Issuing identities: the X.509 client certificate and SSH user certificate of a bot (or
// of tctl's admin), and SSH host certificates. TTLs are capped here, in one place:
// requested ≤ bot max_session_ttl (default 12h) ≤ 24h for renewable identities; every
// certificate is backdated a minute for clock skew.

import { randomBytes } from "node:crypto";
import { importPublicKeyPem } from "../crypto/keys.ts";
import { defaultUserExtensions, signSshCertificate } from "../crypto/ssh/index.ts";
import { identityOids } from "../crypto/tls-identity.ts";
import { issueCertificate } from "../crypto/x509.ts";
import { randomSerialBytes } from "../crypto/x509-leaf.ts";
import type { Certificates, PublicKeys } from "../protocol/messages.ts";
import { badParameter } from "../util/errors.ts";
import type { Authorities, LoadedCA } from "./authorities.ts";
import { metricsSink } from "./metrics/observer.ts";

/** A certificate for a database or an application (db_client, app CA) or for a server (db, app CA). */
export interface LeafRequest {
  ca: LoadedCA;
  /** PKIX PEM. */
  publicKeyPem: string;
  commonName: string;
  organizations?: string[];
  attributes?: Record<string, string>;
  usage: "client" | "server";
  dnsNames?: string[];
  ipAddresses?: string[];
  requestedExpiry: Date;
  maxTtlMs: number;
  /** The ceiling over maxTtlMs (default 24h, as for every output certificate). */
  ceilingMs?: number;
}

export const MAX_RENEWABLE_TTL_MS = 24 * 3600_000;
export const DEFAULT_MAX_SESSION_TTL_MS = 12 * 3600_000;
export const BACKDATE_MS = 60_000;
/** A principal no sshd login can match: the internal identity is not for logging in. */
export const INTERNAL_PRINCIPAL = "-teleport-internal-join";

export interface IdentityRequest {
  username: string;
  /** Roles written into the certificate (O=). */
  roles: string[];
  publicKeys: PublicKeys;
  requestedExpiry: Date;
  /** Upper bound from the bot's max_session_ttl (ms). */
  maxTtlMs: number;
  renewable: boolean;
  generation: number;
  botName?: string;
  botInstanceId?: string;
  systemRole?: string;
  /** The admin identity's ID (with systemRole "Admin"). */
  adminIdentityId?: string;
  disallowReissue: boolean;
  /** SSH principals; empty means the internal, non-login principal. */
  logins: string[];
  /** Overrides the 24h ceiling (the admin identity only). */
  ttlCapMs?: number;
}

export function cappedExpiry(
  requested: Date,
  maxTtlMs: number,
  now = Date.now(),
  ceilingMs = MAX_RENEWABLE_TTL_MS,
): Date {
  const cap = now + Math.min(maxTtlMs, ceilingMs);
  const req = requested.getTime();
  if (!Number.isFinite(req) || req <= now) throw badParameter("requested expiry must be in the future");
  return new Date(Math.min(req, cap));
}

function serial(): bigint {
  return randomBytes(8).readBigUInt64BE() & 0x7fffffffffffffffn;
}

/** The serial of each TLS certificate this process issued, by the object that carried it out. */
const serials = new WeakMap<object, string>();

/** The TLS certificate serial of `certs` if issueIdentity made them (no parsing), else undefined. */
export const issuedSerial = (certs: object): string | undefined => serials.get(certs);

export class Issuer {
  constructor(
    private readonly cas: Authorities,
    /** The cluster's clock (clock.ts): a replica with a wrong clock still issues valid certificates. */
    private readonly clock: () => number = Date.now,
  ) {}

  async issueIdentity(req: IdentityRequest): Promise<Certificates & { expires: Date }> {
    const now = this.clock();
    const notAfter = cappedExpiry(req.requestedExpiry, req.maxTtlMs, now, req.ttlCapMs);
    const notBefore = new Date(now - BACKDATE_MS);
    const tlsPub = await importPublicKeyPem(req.publicKeys.tls_public_key).catch(() => {
      throw badParameter("tls_public_key is not a valid PEM public key (ECDSA P-256 or Ed25519 expected)");
    });
    const attributes: Record<string, string> = { [identityOids.generation]: String(req.generation) };
    if (req.renewable) attributes[identityOids.renewable] = "true";
    if (req.disallowReissue) attributes[identityOids.disallowReissue] = "true";
    if (req.botName) attributes[identityOids.botName] = req.botName;
    if (req.botInstanceId) attributes[identityOids.botInstanceId] = req.botInstanceId;
    if (req.systemRole) attributes[identityOids.systemRole] = req.systemRole;
    if (req.adminIdentityId) attributes[identityOids.adminIdentityId] = req.adminIdentityId;
    const user = this.cas.user;
    const serialBytes = randomSerialBytes();
    const tlsCert = await issueCertificate({
      serial: serialBytes,
      caCertPem: user.tlsCert,
      caKey: user.tlsKey,
      publicKey: tlsPub,
      notBefore,
      notAfter,
      commonName: req.username,
      organizations: req.roles,
      attributes,
      usage: "client",
    });
    const extensions: Record<string, string> = { ...defaultUserExtensions };
    if (req.botName) extensions["bot-name@goteleport.com"] = req.botName;
    if (req.botInstanceId) extensions["bot-instance-id@goteleport.com"] = req.botInstanceId;
    let sshCert: string;
    try {
      sshCert = await signSshCertificate(
        {
          publicKeyLine: req.publicKeys.ssh_public_key,
          certType: "user",
          keyId: req.username,
          principals: req.logins.length ? req.logins : [INTERNAL_PRINCIPAL],
          validAfter: notBefore,
          validBefore: notAfter,
          serial: serial(),
          extensions,
        },
        user.sshKey!,
        user.sshPublic!,
      );
    } catch (e) {
      throw badParameter(`ssh_public_key is not usable: ${(e as Error).message}`);
    }
    const certs = {
      tls_cert: tlsCert,
      tls_ca_certs: [this.cas.host.tlsCert],
      ssh_cert: sshCert,
      ssh_ca_keys: [this.cas.host.sshPublic!],
      expires: notAfter,
    };
    metricsSink()?.issued("user", "tls");
    metricsSink()?.issued("user", "ssh");
    // As X509Certificate's serialNumber reads it: 16 bytes, the first never 0, in upper-case hex.
    serials.set(certs, Buffer.from(serialBytes).toString("hex").toUpperCase());
    return certs;
  }

  async issueLeaf(req: LeafRequest): Promise<{ cert: string; expires: Date; serial: string }> {
    const now = this.clock();
    const notAfter = cappedExpiry(req.requestedExpiry, req.maxTtlMs, now, req.ceilingMs);
    const publicKey = await importPublicKeyPem(req.publicKeyPem).catch(() => {
      throw badParameter("tls_public_key is not a valid PEM public key (ECDSA P-256 or Ed25519 expected)");
    });
    const serialBytes = randomSerialBytes();
    const cert = await issueCertificate({
      serial: serialBytes,
      caCertPem: req.ca.tlsCert,
      caKey: req.ca.tlsKey,
      publicKey,
      notBefore: new Date(now - BACKDATE_MS),
      notAfter,
      commonName: req.commonName,
      organizations: req.organizations,
      attributes: req.attributes,
      usage: req.usage,
      dnsNames: req.dnsNames,
      ipAddresses: req.ipAddresses,
    });
    metricsSink()?.issued(req.ca.type, "tls");
    return { cert, expires: notAfter, serial: Buffer.from(serialBytes).toString("hex").toUpperCase() };
  }

  async issueHostCert(
    sshPublicKey: string,
    principals: string[],
    hostId: string,
    expiry: Date,
  ): Promise<string> {
    const now = this.clock();
    try {
      const cert = await signSshCertificate(
        {
          publicKeyLine: sshPublicKey,
          certType: "host",
          keyId: hostId,
          principals,
          validAfter: new Date(now - BACKDATE_MS),
          validBefore: cappedExpiry(expiry, MAX_RENEWABLE_TTL_MS, now),
          serial: serial(),
        },
        this.cas.host.sshKey!,
        this.cas.host.sshPublic!,
      );
      metricsSink()?.issued("host", "ssh");
      return cert;
    } catch (e) {
      if ((e as { code?: string }).code) throw e;
      throw badParameter(`ssh_public_key is not usable: ${(e as Error).message}`);
    }
  }
}
