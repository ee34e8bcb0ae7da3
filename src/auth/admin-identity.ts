// Admin identities: identity files with the Admin system role, for tctl. Each has an ID (in
// the certificate, OID 1.3.9999.3.2) and a record in the backend until it expires; the server
// refuses an admin certificate without a record or with a lock on its ID. The first start of
// tauth writes DATA_DIR/admin-identity and later starts keep it while it is usable; more are
// issued offline with `tauth admin-identity` (anyone who can read the data directory already
// holds the CA keys, so this gives nothing away and nobody is ever locked out).

import { X509Certificate } from "node:crypto";
import { linkSync, readdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { hostname, userInfo } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { certAuthorityLine, parseIdentityFile, renderIdentityFile } from "../crypto/identity-file.ts";
import { generateKeyPair, privateKeyPem, publicKeyPem } from "../crypto/keys.ts";
import { sshPublicKeyLine } from "../crypto/ssh/index.ts";
import { parseTlsIdentity } from "../crypto/tls-identity.ts";
import { UserError } from "../util/errors.ts";
import { adminIdentityRefusal } from "./locks.ts";
import type { AuthService } from "./service.ts";
import type { AdminIdentity } from "./store/types.ts";

export const DEFAULT_ADMIN_IDENTITY_TTL_MS = 365 * 86_400_000;
/** A kept admin-identity is replaced at start once less than this (or half its life) is left. */
const RENEW_BEFORE_MS = 7 * 86_400_000;

export interface IssuedAdminIdentity {
  id: string;
  path: string;
  expires: Date;
}

/** The OS user's name (Bun's userInfo() says "unknown" for some users: /etc/passwd then), or uid. */
function currentUser(): string {
  const uid = process.getuid?.();
  try {
    const name = userInfo().username;
    if (name && name !== "unknown") return name;
  } catch {}
  try {
    const line = readFileSync("/etc/passwd", "utf8")
      .split("\n")
      .find((l) => l.split(":")[2] === String(uid));
    if (line) return line.split(":")[0]!;
  } catch {}
  return `uid ${uid ?? "?"}`;
}

/** Write `text` at `path` (0600) in one step: a temporary file, then rename (or link, if `exclusive`). */
function writeAtomically(path: string, text: string, exclusive: boolean): void {
  const tmp = join(dirname(path), `.${basename(path)}.${crypto.randomUUID()}.tmp`);
  writeFileSync(tmp, text, { mode: 0o600, flag: "wx" });
  if (!exclusive) {
    renameSync(tmp, path);
    return;
  }
  try {
    linkSync(tmp, path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST")
      throw new UserError(`${path} already exists; choose another --out or remove it first`);
    throw e;
  } finally {
    unlinkSync(tmp);
  }
}

export async function issueAdminIdentity(
  svc: AuthService,
  opts: { ttlMs: number; path: string; createdBy: string; exclusive?: boolean },
): Promise<IssuedAdminIdentity> {
  const id = crypto.randomUUID();
  const keys = await generateKeyPair("ecdsa-p256");
  const certs = await svc.issuer.issueIdentity({
    username: "admin",
    roles: ["admin"],
    publicKeys: {
      tls_public_key: await publicKeyPem(keys.publicKey),
      ssh_public_key: await sshPublicKeyLine(keys.publicKey),
    },
    requestedExpiry: new Date(Date.now() + opts.ttlMs),
    maxTtlMs: opts.ttlMs,
    renewable: false,
    generation: 0,
    systemRole: "Admin",
    adminIdentityId: id,
    disallowReissue: true,
    logins: [],
    ttlCapMs: opts.ttlMs,
  });
  const record: AdminIdentity = {
    kind: "admin_identity",
    version: "v1",
    metadata: { name: id, expires: certs.expires.toISOString() },
    spec: {
      created_at: new Date().toISOString(),
      created_by: opts.createdBy,
      os_user: currentUser(),
      host: hostname(),
      file: resolve(opts.path),
      serial: new X509Certificate(certs.tls_cert).serialNumber,
    },
  };
  // The record first: a file whose record is missing would be refused.
  await svc.adminIdentities.create(id, record, certs.expires);
  const c = svc.clusterName;
  writeAtomically(
    opts.path,
    renderIdentityFile({
      privateKeyPem: await privateKeyPem(keys.privateKey),
      sshCert: certs.ssh_cert,
      tlsCertPem: certs.tls_cert,
      sshCaLines: certs.ssh_ca_keys.map((k) => certAuthorityLine([c, `*.${c}`], k)),
      tlsCaPems: certs.tls_ca_certs,
    }),
    opts.exclusive === true,
  );
  svc.audit.emit("admin_identity.create", {
    id,
    expires: certs.expires.toISOString(),
    created_by: opts.createdBy,
    os_user: record.spec.os_user,
    file: opts.path,
  });
  return { id, path: opts.path, expires: certs.expires };
}

/**
 * Whether the admin identity file at `path` can be kept: ours (signed by this cluster's user
 * CA), with an ID the server accepts (record, no lock) and enough life left. Returns its ID,
 * or why not.
 */
export async function usableAdminIdentity(
  svc: AuthService,
  path: string,
): Promise<{ id: string } | { reason: string }> {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(parseIdentityFile(readFileSync(path, "utf8")).tlsCertPem);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { reason: code === "ENOENT" ? "none yet" : `unreadable (${code ?? (e as Error).message})` };
  }
  if (!cert.verify(new X509Certificate(svc.authorities.user.tlsCert).publicKey))
    return { reason: "not issued by this cluster's user CA" };
  const who = parseTlsIdentity(cert);
  if (who.systemRole !== "Admin") return { reason: "not an admin identity" };
  const refusal = await adminIdentityRefusal(svc, who.adminIdentityId);
  if (refusal) return { reason: refusal };
  const left = who.notAfter.getTime() - Date.now();
  const life = who.notAfter.getTime() - who.notBefore.getTime();
  if (left < Math.min(RENEW_BEFORE_MS, life / 2))
    return { reason: `it expires soon (${who.notAfter.toISOString()})` };
  return { id: who.adminIdentityId! };
}

/**
 * DATA_DIR/admin-identity at start: kept when usable, else (first start, deleted, expiring,
 * locked, from before IDs) a new one replaces it.
 */
export async function ensureAdminIdentity(
  svc: AuthService,
  ttlMs = DEFAULT_ADMIN_IDENTITY_TTL_MS,
): Promise<{ id: string; path: string; issued: boolean; reason?: string }> {
  const path = join(svc.dataDir, "admin-identity");
  // Left by a start killed mid-write: a private key nobody will use.
  for (const f of readdirSync(svc.dataDir))
    if (f.startsWith(".admin-identity.") && f.endsWith(".tmp")) rmSync(join(svc.dataDir, f), { force: true });
  const kept = await usableAdminIdentity(svc, path);
  if ("id" in kept) return { id: kept.id, path, issued: false };
  const issued = await issueAdminIdentity(svc, { ttlMs, path, createdBy: "tauth start" });
  return { id: issued.id, path, issued: true, reason: kept.reason };
}
