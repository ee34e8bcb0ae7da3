// The `application` output (reference §1.6, §8.1): a client certificate from the cluster's
// app CA, bound to one app, for an HTTPS service that verifies its clients against that CA
// (nginx `ssl_verify_client on`); a fresh key each run, written as one atomic set.

import { certAuthorityLine } from "../../../crypto/identity-file.ts";
import type { AppCertsRequest, AppCertsResponse, AuthoritiesResponse } from "../../../protocol/messages.ts";
import { paths } from "../../../protocol/messages.ts";
import { freshKey } from "../../identity/bot-identity.ts";
import { openStore } from "../../storage/open.ts";
import type { Store } from "../../storage/store.ts";
import type { OutputService, ServiceContext } from "../service.ts";
import type { ApplicationService } from "./config.ts";

const nl = (s: string) => (s.endsWith("\n") ? s : `${s}\n`);
const bundle = (pems: readonly string[]) => pems.map(nl).join("");

export interface ApplicationFileParts {
  keyPem: string;
  certPem: string;
  /** The app CA: issued the certificate and signs the services' (tctl auth sign --format=app). */
  appCaPems: string[];
  hostCaPems: string[];
  userCaPems: string[];
  dbCaPems: string[];
  sshCaLines: string[];
}

/** The files of one application output (reference §8.1). */
export function applicationFiles(s: ApplicationService, p: ApplicationFileParts): Record<string, string> {
  const files: Record<string, string> = {
    // §8.2's layout without an SSH certificate (none is issued for an app).
    identity: [p.keyPem, p.certPem, ...p.sshCaLines, ...p.hostCaPems].map(nl).join(""),
    key: p.keyPem,
    tlscert: p.certPem,
    "teleport-host-ca.crt": bundle(p.hostCaPems),
    "teleport-user-ca.crt": bundle(p.userCaPems),
    "teleport-database-ca.crt": bundle(p.dbCaPems),
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

export class ApplicationOutput implements OutputService {
  readonly type = "application";
  readonly name: string;
  private readonly store: Store;
  constructor(
    private readonly cfg: ApplicationService,
    index: number,
  ) {
    this.name = cfg.name ?? `application-${index + 1}`;
    this.store = openStore(cfg.destination, "destination");
  }

  init(): Promise<void> {
    return this.store.init();
  }

  async run(ctx: ServiceContext): Promise<void> {
    const key = await freshKey();
    const ttl = this.cfg.credentialTtlMs ?? ctx.credentialTtlMs;
    const req: AppCertsRequest = {
      app_name: this.cfg.appName,
      tls_public_key: key.publicKeys.tls_public_key,
      expires: new Date(Date.now() + ttl).toISOString(),
    };
    // A refusal (no role allows the app, unknown app) is tauth's one line, before any write.
    const [res, cas] = await Promise.all([
      ctx.api.post<AppCertsResponse>(paths.appCerts, req),
      ctx.api.get<AuthoritiesResponse>(paths.authorities),
    ]);
    const c = ctx.clusterName;
    const files = applicationFiles(this.cfg, {
      keyPem: key.keyPem,
      certPem: res.tls_cert,
      appCaPems: res.tls_ca_certs,
      hostCaPems: cas.host.tls,
      userCaPems: cas.user.tls,
      dbCaPems: cas.db.tls,
      sshCaLines: cas.host.ssh.map((k) => certAuthorityLine([ctx.serverHost, c, `*.${c}`], k)),
    });
    await this.store.writeSet("application", files);
  }
}
