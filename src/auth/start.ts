// Starting tauth: open the service, issue the listener's TLS certificate from the host CA,
// make sure the admin identity for tctl exists, and serve the API until stopped.

import { statSync } from "node:fs";
import { isIP } from "node:net";
import { hostname } from "node:os";
import { generateKeyPair, pkcs8Pem } from "../crypto/keys.ts";
import { issueCertificate } from "../crypto/x509.ts";
import { GITHUB_ISSUER_ENV, githubIssuerOverride } from "../join/github/issuer-override.ts";
import { extraStsHosts } from "../join/iam/sts-hosts.ts";
import { UserError } from "../util/errors.ts";
import { formatHostPort } from "../util/host-port.ts";
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
import type { DiagServer } from "./metrics/diag.ts";
import { installMetricsSink } from "./metrics/observer.ts";
import { checkPackagesDirOutside, PackageDir } from "./packages.ts";
import { AuthService } from "./service.ts";
import { webAdminRoutes } from "./web/admin-route.ts";
import { webRoutes } from "./web/routes.ts";

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
  /**
   * Set in a worker process (workers.ts): the primary has initialised the data directory and
   * the admin identity and checked the address; the worker shares the port (SO_REUSEPORT).
   */
  worker?: { index: number };
  /**
   * --diag-addr: serve /metrics, /healthz, /readyz over plain HTTP here. With workers, each
   * worker keeps metrics and hands them to the primary over IPC; the primary serves the
   * listener with their sum (workers.ts).
   */
  diag?: { host: string; port: number };
}

export interface PreparedAuth {
  clusterName: string;
  caPin: string;
  adminIdentity: string;
  adminIdentityId: string;
  storage: string;
}

export interface RunningAuth {
  svc: AuthService;
  port: number;
  /** The diagnostics listener's port, when there is one. */
  diagPort?: number;
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

function packageDir(cfg: AuthConfig): PackageDir | undefined {
  if (!cfg.packagesDir) return undefined;
  if (!statSync(cfg.packagesDir, { throwIfNoEntry: false })?.isDirectory())
    throw new UserError(`--packages-dir ${cfg.packagesDir} is not a directory`);
  checkPackagesDirOutside(cfg.packagesDir, cfg.dataDir);
  return new PackageDir(cfg.packagesDir);
}

async function openService(cfg: AuthConfig, storage: StorageConfig): Promise<AuthService> {
  // A database tauth cannot use fails here, in one line, before the data directory is touched.
  const backend = await openStorage(storage);
  return AuthService.open({
    dataDir: cfg.dataDir,
    clusterName: cfg.clusterName,
    backend,
    ...(cfg.replicaId ? { replicaId: cfg.replicaId } : {}),
  }).catch(async (e) => {
    await backend?.close();
    throw e;
  });
}

async function adminIdentity(svc: AuthService, cfg: AuthConfig) {
  const admin = await ensureAdminIdentity(svc, cfg.adminIdentityTtlMs);
  if (admin.issued)
    log.info("Wrote a new admin identity", { id: admin.id, path: admin.path, why: admin.reason ?? "" });
  return admin;
}

/**
 * What the primary of several workers does once, before any worker starts: check the
 * address, create the cluster (data directory, CAs, preset roles) and the admin identity.
 */
export async function prepareAuth(cfg: AuthConfig): Promise<PreparedAuth> {
  packageDir(cfg);
  await checkListenable(cfg.listenHost, cfg.listenPort);
  const storage = cfg.storage ?? { type: "sqlite" };
  const svc = await openService(cfg, storage);
  try {
    const admin = await adminIdentity(svc, cfg);
    return {
      clusterName: svc.clusterName,
      caPin: svc.authorities.caPins()[0]!,
      adminIdentity: admin.path,
      adminIdentityId: admin.id,
      storage: describeStorage(storage, cfg.dataDir),
    };
  } finally {
    await svc.close();
  }
}

export async function startAuth(cfg: AuthConfig): Promise<RunningAuth> {
  const packages = packageDir(cfg);
  // A malformed TAUTH_GITHUB_ISSUER_URL is refused before anything is written.
  const githubIssuer = githubIssuerOverride();
  // A malformed TAUTH_STS_ENDPOINTS is refused before anything is written.
  const stsHosts = extraStsHosts();
  if (!cfg.worker) await checkListenable(cfg.listenHost, cfg.listenPort);
  const storage = cfg.storage ?? { type: "sqlite" };
  // Metrics before the service opens, so that its backend is instrumented (service.ts).
  const serveDiag = cfg.diag && !cfg.worker ? cfg.diag : undefined;
  let countInstances: (() => Promise<number>) | undefined;
  const metrics = cfg.diag
    ? (await import("./metrics/prom.ts")).createAuthMetrics({ countInstances: () => countInstances!() })
    : undefined;
  installMetricsSink(metrics?.sink);
  // A worker answers its primary's requests for its metrics (workers.ts gathers them).
  const onMetricsRequest = (m: unknown) => {
    const id = (m as { tauthMetrics?: number } | null)?.tauthMetrics;
    if (id === undefined || !metrics) return;
    metrics.registry.getMetricsAsJSON().then(
      (list) => process.send?.({ tauthMetricsReply: id, metrics: list }),
      (e) => log.warn("Collecting metrics failed", { error: (e as Error).message }),
    );
  };
  if (cfg.worker && metrics) process.on("message", onMetricsRequest);
  const svc = await openService(cfg, storage).catch((e) => {
    installMetricsSink(undefined);
    throw e;
  });
  countInstances = () =>
    svc.backend.count
      ? svc.backend.count("/bot_instances/")
      : Promise.reject(new Error("this backend cannot count"));
  const tls = await serverCertificate(svc, cfg);
  // A worker's primary has made sure of the admin identity already.
  const admin = cfg.worker ? undefined : await adminIdentity(svc, cfg);
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
    ...webAdminRoutes(svc),
    ...webRoutes(svc),
  );
  const server = await startHttpServer(
    svc,
    router,
    { ...tls, clientCaPems: [svc.authorities.user.tlsCert] },
    cfg.listenHost,
    cfg.listenPort,
    undefined,
    { reusePort: !!cfg.worker },
  );
  const addr = server.address();
  port = typeof addr === "object" && addr ? addr.port : cfg.listenPort;
  let diag: DiagServer | undefined;
  if (serveDiag && metrics) {
    try {
      const { startAuthDiag } = await import("./metrics/diag.ts");
      const readyz = healthRoutes(svc)[0]!;
      diag = startAuthDiag(serveDiag.host, serveDiag.port, {
        render: () => metrics.render(),
        ready: () => readyz.handle({} as never),
      });
    } catch (e) {
      await new Promise<void>((r) => server.close(() => r()));
      await svc.close();
      throw new UserError(
        `cannot listen on --diag-addr ${formatHostPort(serveDiag)}: ${(e as Error).message}`,
      );
    }
    log.info("Diagnostics are listening (plain HTTP: /metrics, /healthz, /readyz)", {
      addr: formatHostPort({ host: serveDiag.host, port: diag.port }),
      ...(cfg.worker ? { worker: cfg.worker.index } : {}),
    });
  }
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
  // Extra STS endpoints change whom iam joins trust: said before the
  // "listening" line, which tests and operators wait for.
  if (stsHosts.length && !cfg.worker)
    log.warn("TAUTH_STS_ENDPOINTS is set: iam joins may also be verified by these STS endpoints", {
      endpoints: stsHosts.join(","),
    });
  if (cfg.worker)
    log.info("Worker is listening", {
      worker: cfg.worker.index,
      addr: `${cfg.listenHost}:${port}`,
      replica: svc.replicaId,
    });
  else
    log.info("Auth service is listening", {
      cluster: svc.clusterName,
      addr: `${cfg.listenHost}:${port}`,
      ca_pin: svc.authorities.caPins()[0],
      admin_identity: admin?.path,
      admin_identity_id: admin?.id,
      storage: describeStorage(storage, cfg.dataDir),
      replica: svc.replicaId,
      ...(packages ? { packages_dir: packages.dir } : {}),
    });
  // A replaced issuer is a trust decision: say so where the operator looks first.
  if (githubIssuer && !cfg.worker)
    log.warn(`${GITHUB_ISSUER_ENV} is set: github tokens naming no GHES host or slug use this issuer`, {
      issuer: githubIssuer,
    });
  return {
    svc,
    port,
    ...(diag ? { diagPort: diag.port } : {}),
    async close() {
      clearInterval(purge);
      diag?.stop();
      process.off("message", onMetricsRequest);
      await new Promise<void>((r) => server.close(() => r()));
      await svc.close();
    },
  };
}
