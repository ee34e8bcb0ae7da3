// The `database` output (reference §1.6, §8.1): a client certificate from the cluster's
// database client CA whose CN is the database user (PostgreSQL's `cert` authentication maps it
// to that user), for a fresh key each run, with the cluster's CA files and the format's own
// names, written as one atomic set.

import type { DatabaseCertsRequest, DatabaseCertsResponse } from "../../../protocol/messages.ts";
import { paths } from "../../../protocol/messages.ts";
import { freshKey } from "../../identity/bot-identity.ts";
import type { ServiceContext } from "../service.ts";
import {
  bundle,
  DestinationOutput,
  issueWithClusterCas,
  nl,
  type TlsClientParts,
  tlsClientFiles,
} from "../tls-client-files.ts";
import type { DatabaseService } from "./config.ts";

/** dbCaPems is the db CA: it verifies the database server (sslrootcert). */
export type DatabaseFileParts = TlsClientParts;

/** The files of one database output, by format (reference §8.1). */
export function databaseFiles(s: DatabaseService, p: DatabaseFileParts): Record<string, string> {
  // The identity file as §8.2 lays it out, without an SSH certificate (none is issued for a
  // database): the key, the database certificate, the host CA's known_hosts lines and TLS CAs.
  const files = tlsClientFiles(p);
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

export class DatabaseOutput extends DestinationOutput {
  readonly type = "database";
  constructor(
    private readonly cfg: DatabaseService,
    index: number,
  ) {
    super(cfg, `database-${index + 1}`);
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
    const { res, cas } = await issueWithClusterCas<DatabaseCertsResponse>(ctx, paths.dbCerts, req);
    const files = databaseFiles(this.cfg, {
      ...cas,
      keyPem: key.keyPem,
      certPem: res.tls_cert,
      dbCaPems: res.tls_ca_certs,
    });
    await this.store.writeSet("database", files);
  }
}
