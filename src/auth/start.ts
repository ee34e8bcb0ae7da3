// Starting tauth: open the service, issue the listener's TLS certificate from the host CA,
// write the admin identity for tctl, and serve the API until stopped.

import { chmodSync, statSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { hostname } from "node:os";
import { join } from "node:path";
import { certAuthorityLine, renderIdentityFile } from "../crypto/identity-file.ts";
import { generateKeyPair, pkcs8Pem, privateKeyPem, publicKeyPem } from "../crypto/keys.ts";
import { sshPublicKeyLine } from "../crypto/ssh/index.ts";
import { issueCertificate } from "../crypto/x509.ts";
import { UserError } from "../util/errors.ts";
import { logger } from "../util/log.ts";
import { adminRoutes } from "./api/admin.ts";
import { botRoutes } from "./api/bot.ts";
import { downloadRoutes } from "./api/downloads.ts";
import type { SqliteBackend } from "./backend/sqlite.ts";
import { Router } from "./http/router.ts";
import { startHttpServer } from "./http/server.ts";
import { PackageDir } from "./packages.ts";
import { AuthService } from "./service.ts";

const log = logger("AUTH");

export interface AuthConfig {
  dataDir: string;
  listenHost: string;
  listenPort: number;
  clusterName: string;
  /** Extra names/IPs for the server certificate (public addresses). */
  publicAddrs: string[];
  /** Lifetime of the admin identity written for tctl. */
  adminIdentityTtlMs?: number;
  /** Directory whose files are served at /packages/ (and offered by /scripts/install.sh). */
  packagesDir?: string;
}

export interface RunningAuth {
  svc: AuthService;
  port: number;
  close(): Promise<void>;
}

async function serverCertificate(svc: AuthService, cfg: AuthConfig) {
  const keys = await generateKeyPair("ecdsa-p256");
  const names = new Set(["localhost", hostname(), cfg.listenHost, ...cfg.publicAddrs]);
  names.delete("0.0.0.0");
  names.delete("::");
  const ips = ["127.0.0.1", "::1", ...[...names].filter((n) => isIP(n))];
  const dns = [...names].filter((n) => n && !isIP(n));
  const now = Date.now();
  const certPem = await issueCertificate({
    caCertPem: svc.authorities.host.tlsCert,
    caKey: svc.authorities.host.tlsKey,
    publicKey: keys.publicKey,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 365 * 86_400_000),
    commonName: `auth.${svc.clusterName}`,
    organizations: [svc.clusterName],
    usage: "server",
    dnsNames: [...new Set([...dns, `*.teleport.cluster.local`])],
    ipAddresses: [...new Set(ips)],
  });
  return { certPem, keyPem: await pkcs8Pem(keys.privateKey) };
}

/** DIR/admin-identity (0600): an identity file with the Admin system role, for tctl. */
async function writeAdminIdentity(svc: AuthService, cfg: AuthConfig): Promise<string> {
  const keys = await generateKeyPair("ecdsa-p256");
  const ttl = cfg.adminIdentityTtlMs ?? 365 * 86_400_000;
  const certs = await svc.issuer.issueIdentity({
    username: "admin",
    roles: ["admin"],
    publicKeys: {
      tls_public_key: await publicKeyPem(keys.publicKey),
      ssh_public_key: await sshPublicKeyLine(keys.publicKey),
    },
    requestedExpiry: new Date(Date.now() + ttl),
    maxTtlMs: ttl,
    renewable: false,
    generation: 0,
    systemRole: "Admin",
    disallowReissue: true,
    logins: [],
    ttlCapMs: ttl,
  });
  const path = join(cfg.dataDir, "admin-identity");
  const c = svc.clusterName;
  writeFileSync(
    path,
    renderIdentityFile({
      privateKeyPem: await privateKeyPem(keys.privateKey),
      sshCert: certs.ssh_cert,
      tlsCertPem: certs.tls_cert,
      sshCaLines: certs.ssh_ca_keys.map((k) => certAuthorityLine([c, `*.${c}`], k)),
      tlsCaPems: certs.tls_ca_certs,
    }),
    { mode: 0o600 },
  );
  chmodSync(path, 0o600);
  return path;
}

export async function startAuth(cfg: AuthConfig): Promise<RunningAuth> {
  let packages: PackageDir | undefined;
  if (cfg.packagesDir) {
    if (!statSync(cfg.packagesDir, { throwIfNoEntry: false })?.isDirectory())
      throw new UserError(`--packages-dir ${cfg.packagesDir} is not a directory`);
    packages = new PackageDir(cfg.packagesDir);
  }
  const svc = await AuthService.open({ dataDir: cfg.dataDir, clusterName: cfg.clusterName });
  const tls = await serverCertificate(svc, cfg);
  const identityPath = await writeAdminIdentity(svc, cfg);
  let port = cfg.listenPort;
  const defaultAddr = () => {
    const any = cfg.listenHost === "0.0.0.0" || cfg.listenHost === "::";
    const h = cfg.publicAddrs[0] ?? (any ? hostname() : cfg.listenHost);
    return `${isIP(h) === 6 ? `[${h}]` : h}:${port}`;
  };
  const router = new Router().add(
    ...botRoutes(svc),
    ...adminRoutes(svc),
    ...downloadRoutes(svc, { packages, defaultAddr }),
  );
  const server = await startHttpServer(
    svc,
    router,
    { ...tls, clientCaPems: [svc.authorities.user.tlsCert] },
    cfg.listenHost,
    cfg.listenPort,
  );
  const addr = server.address();
  port = typeof addr === "object" && addr ? addr.port : cfg.listenPort;
  const purge = setInterval(() => (svc.backend as Partial<SqliteBackend>).purgeExpired?.(), 60_000);
  purge.unref();
  svc.audit.emit("auth.start", { cluster: svc.clusterName, listen: `${cfg.listenHost}:${port}` });
  log.info("Auth service is listening", {
    cluster: svc.clusterName,
    addr: `${cfg.listenHost}:${port}`,
    ca_pin: svc.authorities.caPins()[0],
    admin_identity: identityPath,
    ...(packages ? { packages_dir: packages.dir } : {}),
  });
  return {
    svc,
    port,
    async close() {
      clearInterval(purge);
      await new Promise<void>((r) => server.close(() => r()));
      await svc.close();
    },
  };
}
