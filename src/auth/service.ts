// The auth service's state and rules, independent of HTTP: one object that API handlers and
// join methods call. Storage goes through typed collections over the CAS backend.

import { existsSync, mkdirSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import type { HttpFetcher } from "../join/types.ts";
import type { PingResponse } from "../protocol/messages.ts";
import { isCode, UserError } from "../util/errors.ts";
import { VERSION } from "../version.ts";
import { type AuditSink, FileAuditLog, TeeAuditSink } from "./audit.ts";
import { unsentTail } from "./audit-replay.ts";
import { BackendAuditLog } from "./audit-store.ts";
import { Authorities } from "./authorities.ts";
import type { Backend } from "./backend/backend.ts";
import { ChangeFeed, watchWrites } from "./backend/change-feed.ts";
import { canListen, listenForChanges } from "./backend/change-feed-pg.ts";
import { SqliteBackend } from "./backend/sqlite.ts";
import { ClusterClock } from "./clock.ts";
import { Continuations } from "./continuations.ts";
import { Issuer } from "./issuer.ts";
import { type JoinKeys, loadJoinKeys } from "./join-keys.ts";
import { LockIndex } from "./lock-index.ts";
import { instrumentBackend } from "./metrics/backend.ts";
import { metricsSink } from "./metrics/observer.ts";
import { outboundFetcher } from "./outbound-fetch.ts";
import type {
  AppResource,
  BotResource,
  DatabaseResource,
  RoleResource,
  TokenResource,
  WorkloadIdentityResource,
} from "./resources/index.ts";
import { presetRoles } from "./resources/index.ts";
import { Collection, sha256Hex } from "./store/collection.ts";
import { maskStoredTokenNames, tokenStoredForm } from "./store/tokens.ts";
import type { AdminIdentity, BotInstance, Lock, NodeResource } from "./store/types.ts";

/** What the backend keeps for a token: the resource plus server-only state. */
export interface StoredToken {
  token: TokenResource;
  /** Set when a single-use token has been used; kept as a tombstone for a clear error. */
  consumed_at?: string;
  consumed_by_instance?: string;
  /** publicKeyId of the key it was used with: the same joiner may redeem it again. */
  consumed_by_key?: string;
}

export interface AuthServiceOptions {
  dataDir: string;
  clusterName: string;
  backend?: Backend;
  /** Names this replica in responses (X-Tauth-Replica) and logs; default host name and PID. */
  replicaId?: string;
  /** How often locks are reloaded in full besides the change feed (tests shorten it). */
  lockReloadMs?: number;
}

/** What a replica keeps following besides the backend (see follow()); stopped by close(). */
interface Followers {
  locks: LockIndex;
  clock: ClusterClock;
  unlisten?: () => Promise<void>;
}

export class AuthService {
  readonly bots: Collection<BotResource>;
  readonly roles: Collection<RoleResource>;
  readonly tokens: Collection<StoredToken>;
  readonly instances: Collection<BotInstance>;
  readonly locks: Collection<Lock>;
  readonly nodes: Collection<NodeResource>;
  readonly apps: Collection<AppResource>;
  readonly databases: Collection<DatabaseResource>;
  readonly workloadIdentities: Collection<WorkloadIdentityResource>;
  readonly adminIdentities: Collection<AdminIdentity>;
  readonly issuer: Issuer;
  readonly continuations: Continuations;
  /** Every lock, in memory, kept current across replicas: see lock-index.ts. */
  readonly lockIndex: LockIndex;
  /** The cluster's clock (the database's on PostgreSQL): see clock.ts. */
  readonly clock: ClusterClock;
  /** Outbound HTTP for join methods (JoinContext.fetch); tests may replace it. */
  httpFetch: HttpFetcher = outboundFetcher();
  /** Join methods' long-lived state (JoinContext.methodCache), e.g. the OIDC issuer key cache. */
  private readonly methodCaches = new Map<string, unknown>();
  methodCache<T>(key: string, make: () => T): T {
    if (!this.methodCaches.has(key)) this.methodCaches.set(key, make());
    return this.methodCaches.get(key) as T;
  }

  private constructor(
    readonly backend: Backend,
    readonly authorities: Authorities,
    readonly joinKeys: JoinKeys,
    readonly audit: AuditSink,
    readonly dataDir: string,
    readonly replicaId: string,
    private readonly followers: Followers,
  ) {
    this.lockIndex = followers.locks;
    this.clock = followers.clock;
    const now = () => this.clock.now();
    this.continuations = new Continuations(backend, joinKeys.continuationKey, now);
    this.bots = new Collection(backend, "/bots/");
    this.roles = new Collection(backend, "/roles/");
    // Secret token names are neither keys nor values: see store/tokens.ts.
    this.tokens = new Collection(backend, "/tokens/", sha256Hex, tokenStoredForm);
    this.instances = new Collection(backend, "/bot_instances/");
    this.locks = new Collection(backend, "/locks/");
    this.nodes = new Collection(backend, "/nodes/");
    this.apps = new Collection(backend, "/apps/");
    this.databases = new Collection(backend, "/databases/");
    this.workloadIdentities = new Collection(backend, "/workload_identities/");
    this.adminIdentities = new Collection(backend, "/admin_identities/");
    this.issuer = new Issuer(authorities, now);
  }

  get clusterName(): string {
    return this.authorities.clusterName;
  }

  static async open(opts: AuthServiceOptions): Promise<AuthService> {
    mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
    const store = opts.backend ?? new SqliteBackend(join(opts.dataDir, "tauth.db"));
    // With --diag-addr: every backend operation timed, its conflicts counted (metrics/backend.ts).
    const sink = metricsSink();
    const raw = sink ? instrumentBackend(store, sink) : store;
    // Writes through the service announce changes to what replicas cache (change-feed.ts).
    const feed = new ChangeFeed();
    const backend = watchWrites(raw, feed);
    const cas = await Authorities.init(backend, opts.clusterName);
    const followers = await AuthService.follow(backend, feed, opts.lockReloadMs);
    const svc = new AuthService(
      backend,
      cas,
      await loadJoinKeys(backend),
      // The replica's own file, and the backend log that every replica shares, its events
      // timed by the cluster clock so that replicas' events interleave in the order they happened.
      auditSinks(backend, join(opts.dataDir, "audit.log"), () => followers.clock.now()),
      opts.dataDir,
      opts.replicaId ?? `${hostname()}-${process.pid}`,
      followers,
    );
    await svc.seedPresetRoles();
    await maskStoredTokenNames(backend);
    return svc;
  }

  /**
   * The cluster already in `dataDir` (SQLite) or in `backend` (PostgreSQL, opened by the
   * caller), for offline commands (`tauth admin-identity`) that run next to a running tauth:
   * SQLite in WAL mode takes a second process, PostgreSQL any number. Never creates one.
   */
  static async openExisting(dataDir: string, backend?: Backend, where?: string): Promise<AuthService> {
    const db = join(dataDir, "tauth.db");
    if (!backend && !existsSync(db))
      throw new UserError(
        `${dataDir} holds no cluster (no tauth.db): start tauth on it first, or pass the right --data-dir`,
      );
    const store = backend ?? new SqliteBackend(db);
    const ca = await store.get("/authorities/user");
    const clusterName = ca ? (JSON.parse(ca.value) as { cluster_name?: string }).cluster_name : undefined;
    if (!clusterName) {
      await store.close();
      throw new UserError(
        `${where ?? db} holds no cluster yet: start tauth on ${where ? "it" : dataDir} first`,
      );
    }
    return AuthService.open({ dataDir, clusterName, backend: store });
  }

  /**
   * The lock index and the clock; also the feed of other processes' changes,
   * started after the index's first load (its first subscription reloads, covering the gap).
   */
  private static async follow(backend: Backend, feed: ChangeFeed, lockReloadMs?: number): Promise<Followers> {
    const f: Followers = {
      locks: new LockIndex(backend, lockReloadMs),
      clock: await ClusterClock.start(backend),
    };
    await f.locks.start(feed);
    if (canListen(backend)) f.unlisten = await listenForChanges(backend, feed);
    return f;
  }

  /** A fresh cluster has the reference's preset roles; existing ones are never overwritten. */
  private async seedPresetRoles(): Promise<void> {
    for (const r of presetRoles) {
      try {
        await this.roles.create(r.metadata.name, r);
      } catch (e) {
        if (!isCode(e, "already_exists")) throw e;
      }
    }
  }

  ping(): PingResponse {
    return {
      cluster_name: this.clusterName,
      server_version: VERSION,
      ca_pins: this.authorities.caPins(),
      host_ca_certs: [this.authorities.host.tlsCert],
      signature_algorithm_suite: "balanced-v1",
    };
  }

  async close(): Promise<void> {
    // Queued audit events reach the backend before it closes.
    await this.audit.flush?.();
    this.followers.locks.stop();
    this.followers.clock.stop();
    await this.followers.unlisten?.().catch(() => {});
    await this.backend.close();
  }
}

/**
 * The replica's own file and the backend log every replica shares, one stamp per event (timed
 * by the cluster clock, so that replicas' events interleave in the order they happened). What
 * the previous process wrote to its file but may not have sent is sent first.
 */
function auditSinks(backend: Backend, file: string, now: () => number): AuditSink {
  const shared = new BackendAuditLog(backend, { now });
  shared.replay(unsentTail(file));
  return new TeeAuditSink([new FileAuditLog(file), shared], () => shared.nextStamp());
}
