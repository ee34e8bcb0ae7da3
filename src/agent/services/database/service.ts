// The `database` output (reference §1.6, §8.1): a client certificate from the cluster's
// database client CA whose CN is the database user (PostgreSQL's `cert` authentication maps it
// to that user), for a fresh key each run, with the cluster's CA files and the format's own
// names, written as one atomic set.

import { certAuthorityLine } from "../../../crypto/identity-file.ts";
import type {
  AuthoritiesResponse,
  DatabaseCertsRequest,
  DatabaseCertsResponse,
} from "../../../protocol/messages.ts";
import { paths } from "../../../protocol/messages.ts";
import { freshKey } from "../../identity/bot-identity.ts";
import { openStore } from "../../storage/open.ts";
import type { Store } from "../../storage/store.ts";
import type { OutputService, ServiceContext } from "../service.ts";
import type { DatabaseService } from "./config.ts";

const nl = (s: string) => (s.endsWith("\n") ? s : `${s}\n`);
const bundle = (pems: readonly string[]) => pems.map(nl).join("");

export interface DatabaseFileParts {
  keyPem: string;
  certPem: string;
  /** The db CA: verifies the database server (sslrootcert). */
  dbCaPems: string[];
  hostCaPems: string[];
  userCaPems: string[];
  /** `@cert-authority` lines of the host CA, for the identity file. */
  sshCaLines: string[];
}

/** The files of one database output, by format (reference §8.1). */
export function databaseFiles(s: DatabaseService, p: DatabaseFileParts): Record<string, string> {
  const files: Record<string, string> = {
    // The identity file as §8.2 lays it out, without an SSH certificate (none is issued for a
    // database): the key, the database certificate, the host CA's known_hosts lines and TLS CAs.
    identity: [p.keyPem, p.certPem, ...p.sshCaLines, ...p.hostCaPems].map(nl).join(""),
    key: p.keyPem,
    tlscert: p.certPem,
    "teleport-host-ca.crt": bundle(p.hostCaPems),
    "teleport-user-ca.crt": bundle(p.userCaPems),
    "teleport-database-ca.crt": bundle(p.dbCaPems),
  };
  switch (s.format) {
    case "tls":
      files["tls.crt"] = p.certPem;
      files["tls.key"] = p.keyPem;
      files["tls.cas"] = bundle(p.dbCaPems);
      break;
    case "mongo":
      // MongoDB's tlsCertificateKeyFile: the certificate followed by its key.
      files["mongo.crt"] = nl(p.certPem) + p.keyPem;
      files["mongo.cas"] = bundle(p.dbCaPems);
      break;
    case "cockroach":
      // cockroach --certs-dir: ca.crt verifies the nodes; client.<user>.crt/.key log in as <user>.
      files["node.crt"] = p.certPem;
      files["node.key"] = p.keyPem;
      files["ca.crt"] = bundle(p.dbCaPems);
      files[`client.${s.username}.crt`] = p.certPem;
      files[`client.${s.username}.key`] = p.keyPem;
      break;
  }
  return files;
}

export class DatabaseOutput implements OutputService {
  readonly type = "database";
  readonly name: string;
  private readonly store: Store;
  constructor(
    private readonly cfg: DatabaseService,
    index: number,
  ) {
    this.name = cfg.name ?? `database-${index + 1}`;
    this.store = openStore(cfg.destination, "destination");
  }

  init(): Promise<void> {
    return this.store.init();
  }

  async run(ctx: ServiceContext): Promise<void> {
    const key = await freshKey();
    const ttl = this.cfg.credentialTtlMs ?? ctx.credentialTtlMs;
    const req: DatabaseCertsRequest = {
      service: this.cfg.service,
      username: this.cfg.username,
      ...(this.cfg.database !== undefined ? { database: this.cfg.database } : {}),
      tls_public_key: key.publicKeys.tls_public_key,
      expires: new Date(Date.now() + ttl).toISOString(),
    };
    // A refusal (a user or database the roles do not allow, an unknown db) is tauth's one
    // line, thrown before anything is written.
    const [res, cas] = await Promise.all([
      ctx.api.post<DatabaseCertsResponse>(paths.dbCerts, req),
      ctx.api.get<AuthoritiesResponse>(paths.authorities),
    ]);
    const c = ctx.clusterName;
    const files = databaseFiles(this.cfg, {
      keyPem: key.keyPem,
      certPem: res.tls_cert,
      dbCaPems: res.tls_ca_certs,
      hostCaPems: cas.host.tls,
      userCaPems: cas.user.tls,
      sshCaLines: cas.host.ssh.map((k) => certAuthorityLine([ctx.serverHost, c, `*.${c}`], k)),
    });
    await this.store.writeSet("database", files);
  }
}
