// The `application` output (reference §1.6, §8.1): a client certificate from the cluster's
// app CA, bound to one app, for an HTTPS service that verifies its clients against that CA
// (nginx `ssl_verify_client on`); a fresh key each run, written as one atomic set.

import type { AppCertsRequest, AppCertsResponse } from "../../../protocol/messages.ts";
import { paths } from "../../../protocol/messages.ts";
import { freshKey } from "../../identity/bot-identity.ts";
import type { ServiceContext } from "../service.ts";
import {
  bundle,
  DestinationOutput,
  issueWithClusterCas,
  type TlsClientParts,
  tlsClientFiles,
} from "../tls-client-files.ts";
import type { ApplicationService } from "./config.ts";

export interface ApplicationFileParts extends TlsClientParts {
  /** The app CA: issued the certificate and signs the services' (tctl auth sign --format=app). */
  appCaPems: string[];
}

/** The files of one application output (reference §8.1). */
export function applicationFiles(s: ApplicationService, p: ApplicationFileParts): Record<string, string> {
  const files: Record<string, string> = {
    // §8.2's layout without an SSH certificate (none is issued for an app).
    ...tlsClientFiles(p),
    // Not in the reference: the CA a client verifies the HTTPS service with (curl --cacert).
    "teleport-app-ca.crt": bundle(p.appCaPems),
  };
  if (s.specificTlsNaming) {
    files["tls.crt"] = p.certPem;
    files["tls.key"] = p.keyPem;
    files["tls.cas"] = bundle(p.appCaPems);
  }
  return files;
}

export class ApplicationOutput extends DestinationOutput {
  readonly type = "application";
  constructor(
    private readonly cfg: ApplicationService,
    index: number,
  ) {
    super(cfg, `application-${index + 1}`);
  }

  async run(ctx: ServiceContext): Promise<void> {
    const key = await freshKey();
    const ttl = this.cfg.credentialTtlMs ?? ctx.credentialTtlMs;
    const req: AppCertsRequest = {
      app_name: this.cfg.appName,
      tls_public_key: key.publicKeys.tls_public_key,
      expires: new Date(Date.now() + ttl).toISOString(),
    };
    const { res, cas } = await issueWithClusterCas<AppCertsResponse>(ctx, paths.appCerts, req);
    const files = applicationFiles(this.cfg, {
      ...cas,
      keyPem: key.keyPem,
      certPem: res.tls_cert,
      appCaPems: res.tls_ca_certs,
    });
    await this.store.writeSet("application", files);
  }
}
