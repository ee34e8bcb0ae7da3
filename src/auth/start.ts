// Starting tauth: open the service, issue the listener's TLS certificate from the host CA,
// make sure the admin identity for tctl exists, and serve the API until stopped.

import { statSync } from "node:fs";
import { isIP } from "node:net";
import { hostname } from "node:os";
import { generateKeyPair, pkcs8Pem } from "../crypto/keys.ts";
import { issueCertificate } from "../crypto/x509.ts";
import { UserError } from "../util/errors.ts";
import { logger } from "../util/log.ts";
import { ensureAdminIdentity } from "./admin-identity.ts";
import { adminRoutes } from "./api/admin.ts";
import { botRoutes } from "./api/bot.ts";
import { downloadRoutes } from "./api/downloads.ts";
import { describeStorage, openStorage, type StorageConfig } from "./backend/open.ts";
import { healthRoutes } from "./http/health.ts";
import { checkListenable } from "./http/listen-check.ts";
import { type Route, Router } from "./http/router.ts";
import { startHttpServer } from "./http/server.ts";
import { checkPackagesDirOutside, PackageDir } from "./packages.ts";
import { AuthService } from "./service.ts";

const log = logger("AUTH");

export interface AuthConfig {
  dataDir: string;
  listenHost: string;
  listenPort: number;
  clusterName: string;
  /** Extra names/IPs for the server certificate (public addresses). */
  publicAddrs: string[];
  /** Lifetime of the admin identity written for tctl (when one is written: see admin-identity.ts). */
  adminIdentityTtlMs?: number;
  /** Directory whose files are served at /packages/ (and offered by /scripts/install.sh). */
  packagesDir?: string;
  /** Where the cluster's state lives; SQLite in dataDir when absent. */
  storage?: StorageConfig;
  /** This replica's name in responses and logs (--replica-id); default host name and PID. */
  replicaId?: string;
}

export interface RunningAuth {
  svc: AuthService;
  port: number;
  close(): Promise<void>;
}

async function serverCertificate(svc: AuthService, cfg: AuthConfig) {
  const keys = await generateKeyPair("ecdsa-p256");
  // The cluster's clock: clients judge the validity by theirs, which agrees with the database's.
  const now = svc.clock.now();
  const names = new Set(["localhost", hostname(), cfg.listenHost, ...cfg.publicAddrs]);
  names.delete("0.0.0.0");
  names.delete("::");
  const ips = ["127.0.0.1", "::1", ...[...names].filter((n) => isIP(n))];
  const dns = [...names].filter((n) => n && !isIP(n));
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

/**
 * A bot's request is answered once its audit events are in the backend's shared log, so a
 * join answered by one replica is in `tctl audit ls` through any other (admin routes do the same).
 */
function answeredAfterAudit(svc: AuthService, r: Route): Route {
  return {
    ...r,
    async handle(c) {
      try {
        return await r.handle(c);
      } finally {
        await svc.audit.flush?.();
      }
    },
  };
}

export async function startAuth(cfg: AuthConfig): Promise<RunningAuth> {
  let packages: PackageDir | undefined;
  if (cfg.packagesDir) {
    if (!statSync(cfg.packagesDir, { throwIfNoEntry: false })?.isDirectory())
      throw new UserError(`--packages-dir ${cfg.packagesDir} is not a directory`);
    checkPackagesDirOutside(cfg.packagesDir, cfg.dataDir);
    packages = new PackageDir(cfg.packagesDir);
  }
  await checkListenable(cfg.listenHost, cfg.listenPort);
  // A database tauth cannot use fails here, in one line, before the data directory is touched.
  const storage = cfg.storage ?? { type: "sqlite" };
  const backend = await openStorage(storage);
  const svc = await AuthService.open({
    dataDir: cfg.dataDir,
    clusterName: cfg.clusterName,
    backend,
    ...(cfg.replicaId ? { replicaId: cfg.replicaId } : {}),
  }).catch(async (e) => {
    await backend?.close();
    throw e;
  });
  const tls = await serverCertificate(svc, cfg);
  const admin = await ensureAdminIdentity(svc, cfg.adminIdentityTtlMs);
  if (admin.issued)
    log.info("Wrote a new admin identity", { id: admin.id, path: admin.path, why: admin.reason ?? "" });
  let port = cfg.listenPort;
  const defaultAddr = () => {
    const any = cfg.listenHost === "0.0.0.0" || cfg.listenHost === "::";
    const h = cfg.publicAddrs[0] ?? (any ? hostname() : cfg.listenHost);
    return `${isIP(h) === 6 ? `[${h}]` : h}:${port}`;
  };
  const router = new Router().add(
    ...botRoutes(svc).map((r) => answeredAfterAudit(svc, r)),
    ...adminRoutes(svc),
    ...downloadRoutes(svc, { packages, defaultAddr }),
    ...healthRoutes(svc),
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
  // Every replica sweeps; the PostgreSQL sweep is batched and SKIP LOCKED, so they share it.
  const purge = setInterval(
    () =>
      svc.backend
        .purgeExpired()
        .catch((e) => log.warn("Expiry sweep failed", { error: (e as Error).message })),
    60_000,
  );
  purge.unref();
  svc.audit.emit("auth.start", { cluster: svc.clusterName, listen: `${cfg.listenHost}:${port}` });
  log.info("Auth service is listening", {
    cluster: svc.clusterName,
    addr: `${cfg.listenHost}:${port}`,
    ca_pin: svc.authorities.caPins()[0],
    admin_identity: admin.path,
    admin_identity_id: admin.id,
    storage: describeStorage(storage, cfg.dataDir),
    replica: svc.replicaId,
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
