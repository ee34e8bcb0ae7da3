// What the database and application outputs share: a client certificate for a fresh key,
// issued by one tauth call, written with the cluster's CA files and an identity file in the
// §8.2 layout (no SSH certificate is issued for these). Each output adds its own names.

import { certAuthorityLine } from "../../crypto/identity-file.ts";
import type { AuthoritiesResponse } from "../../protocol/messages.ts";
import { paths } from "../../protocol/messages.ts";
import type { Destination } from "../config/types.ts";
import { openStore } from "../storage/open.ts";
import type { Store } from "../storage/store.ts";
import type { OutputService, ServiceContext } from "./service.ts";

export const nl = (s: string) => (s.endsWith("\n") ? s : `${s}\n`);
export const bundle = (pems: readonly string[]) => pems.map(nl).join("");

/** The cluster's CAs as these outputs write them. */
export interface ClusterCaParts {
  hostCaPems: string[];
  userCaPems: string[];
  dbCaPems: string[];
  /** `@cert-authority` lines of the host CA, for the identity file. */
  sshCaLines: string[];
}

export interface TlsClientParts extends ClusterCaParts {
  keyPem: string;
  certPem: string;
}

/** The names every TLS client output writes (reference §8.1). */
export function tlsClientFiles(p: TlsClientParts): Record<string, string> {
  return {
    identity: [p.keyPem, p.certPem, ...p.sshCaLines, ...p.hostCaPems].map(nl).join(""),
    key: p.keyPem,
    tlscert: p.certPem,
    "teleport-host-ca.crt": bundle(p.hostCaPems),
    "teleport-user-ca.crt": bundle(p.userCaPems),
    "teleport-database-ca.crt": bundle(p.dbCaPems),
  };
}

/**
 * Asks tauth for the certificate and reads the cluster's CAs at once. A refusal (roles, an
 * unknown db or app) is tauth's one line, thrown before anything is written.
 */
export async function issueWithClusterCas<T>(
  ctx: ServiceContext,
  path: string,
  req: object,
): Promise<{ res: T; cas: ClusterCaParts }> {
  const [res, cas] = await Promise.all([
    ctx.api.post<T>(path, req),
    ctx.api.get<AuthoritiesResponse>(paths.authorities),
  ]);
  const c = ctx.clusterName;
  return {
    res,
    cas: {
      hostCaPems: cas.host.tls,
      userCaPems: cas.user.tls,
      dbCaPems: cas.db.tls,
      sshCaLines: cas.host.ssh.map((k) => certAuthorityLine([ctx.serverHost, c, `*.${c}`], k)),
    },
  };
}

/** An output writing one set into its destination: its name, store and write test. */
export abstract class DestinationOutput implements OutputService {
  abstract readonly type: string;
  readonly name: string;
  protected readonly store: Store;
  constructor(cfg: { name?: string; destination: Destination }, defaultName: string) {
    this.name = cfg.name ?? defaultName;
    this.store = openStore(cfg.destination, "destination");
  }

  init(): Promise<void> {
    return this.store.init();
  }

  abstract run(ctx: ServiceContext): Promise<void>;
}
