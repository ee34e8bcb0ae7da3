// The auth service's state and rules, independent of HTTP: one object that API handlers and
// join methods call. Storage goes through typed collections over the CAS backend.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { PingResponse } from "../protocol/messages.ts";
import { isCode } from "../util/errors.ts";
import { VERSION } from "../version.ts";
import { type AuditSink, FileAuditLog } from "./audit.ts";
import { Authorities } from "./authorities.ts";
import type { Backend } from "./backend/backend.ts";
import { SqliteBackend } from "./backend/sqlite.ts";
import { Continuations } from "./continuations.ts";
import { Issuer } from "./issuer.ts";
import { type JoinKeys, loadJoinKeys } from "./join-keys.ts";
import type { BotResource, RoleResource, TokenResource } from "./resources/index.ts";
import { presetRoles } from "./resources/index.ts";
import { Collection, sha256Hex } from "./store/collection.ts";
import type { BotInstance, Lock, NodeResource } from "./store/types.ts";

/** What the backend keeps for a token: the resource plus server-only state. */
export interface StoredToken {
  token: TokenResource;
  /** Set when a single-use token has been used; kept as a tombstone for a clear error. */
  consumed_at?: string;
  consumed_by_instance?: string;
}

export interface AuthServiceOptions {
  dataDir: string;
  clusterName: string;
  backend?: Backend;
}

export class AuthService {
  readonly bots: Collection<BotResource>;
  readonly roles: Collection<RoleResource>;
  readonly tokens: Collection<StoredToken>;
  readonly instances: Collection<BotInstance>;
  readonly locks: Collection<Lock>;
  readonly nodes: Collection<NodeResource>;
  readonly issuer: Issuer;
  readonly continuations: Continuations;

  private constructor(
    readonly backend: Backend,
    readonly authorities: Authorities,
    readonly joinKeys: JoinKeys,
    readonly audit: AuditSink,
    readonly dataDir: string,
  ) {
    this.continuations = new Continuations(backend, joinKeys.continuationKey);
    this.bots = new Collection(backend, "/bots/");
    this.roles = new Collection(backend, "/roles/");
    this.tokens = new Collection(backend, "/tokens/", sha256Hex);
    this.instances = new Collection(backend, "/bot_instances/");
    this.locks = new Collection(backend, "/locks/");
    this.nodes = new Collection(backend, "/nodes/");
    this.issuer = new Issuer(authorities);
  }

  get clusterName(): string {
    return this.authorities.clusterName;
  }

  static async open(opts: AuthServiceOptions): Promise<AuthService> {
    mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
    const backend = opts.backend ?? new SqliteBackend(join(opts.dataDir, "tauth.db"));
    const cas = await Authorities.init(backend, opts.clusterName);
    const svc = new AuthService(
      backend,
      cas,
      await loadJoinKeys(backend),
      new FileAuditLog(join(opts.dataDir, "audit.log")),
      opts.dataDir,
    );
    await svc.seedPresetRoles();
    return svc;
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
    await this.backend.close();
  }
}
