// The `identity` output (reference §8.1): impersonated, short-lived credentials for other
// programs — identity file, split key/certs, CA bundles, known_hosts and ssh_config —
// written as one atomic set so a reader never pairs a key with another key's certificate.

import { certAuthorityLine, renderIdentityFile } from "../../../crypto/identity-file.ts";
import type { AuthoritiesResponse, Certificates, UserCertsRequest } from "../../../protocol/messages.ts";
import { paths } from "../../../protocol/messages.ts";
import { UserError } from "../../../util/errors.ts";
import { freshKey } from "../../identity/bot-identity.ts";
import { openStore } from "../../storage/open.ts";
import type { Store } from "../../storage/store.ts";
import type { OutputService, ServiceContext } from "../service.ts";
import type { IdentityService } from "./config.ts";
import { knownHosts, selfCommand, sshConfig } from "./ssh-client-files.ts";

export class IdentityOutput implements OutputService {
  readonly type = "identity";
  readonly name: string;
  private readonly store: Store;
  constructor(
    private readonly cfg: IdentityService,
    index: number,
  ) {
    this.name = cfg.name ?? `identity-${index + 1}`;
    this.store = openStore(cfg.destination, "destination");
  }

  init(): Promise<void> {
    return this.store.init();
  }

  async run(ctx: ServiceContext): Promise<void> {
    // There are no leaf clusters: `cluster` may only name this one (known once connected).
    if (this.cfg.cluster !== undefined && this.cfg.cluster !== ctx.clusterName)
      throw new UserError(
        `cluster "${this.cfg.cluster}" is not this cluster ("${ctx.clusterName}") and this build has no leaf clusters; remove cluster or set it to "${ctx.clusterName}"`,
      );
    const key = await freshKey();
    const ttl = this.cfg.credentialTtlMs ?? ctx.credentialTtlMs;
    const req: UserCertsRequest = {
      public_keys: key.publicKeys,
      expires: new Date(Date.now() + ttl).toISOString(),
    };
    const [certs, cas] = await Promise.all([
      ctx.api.post<Certificates>(paths.userCerts, req),
      ctx.api.get<AuthoritiesResponse>(paths.authorities),
    ]);
    const c = ctx.clusterName;
    const files: Record<string, string> = {
      identity: renderIdentityFile({
        privateKeyPem: key.keyPem,
        sshCert: certs.ssh_cert,
        tlsCertPem: certs.tls_cert,
        sshCaLines: cas.host.ssh.map((k) => certAuthorityLine([ctx.serverHost, c, `*.${c}`], k)),
        tlsCaPems: cas.host.tls,
      }),
      key: key.keyPem,
      "key.pub": `${key.publicKeys.ssh_public_key}\n`,
      "key-cert.pub": `${certs.ssh_cert}\n`,
      tlscert: certs.tls_cert,
      "teleport-host-ca.crt": cas.host.tls.join(""),
      "teleport-user-ca.crt": cas.user.tls.join(""),
      "teleport-database-ca.crt": cas.db.tls.join(""),
    };
    if (this.cfg.sshConfig) {
      files.known_hosts = knownHosts(ctx.serverHost, c, cas.host.ssh);
      if (this.store.path)
        files.ssh_config = sshConfig({
          proxyHost: ctx.serverHost,
          proxyPort: ctx.serverPort,
          cluster: c,
          destDir: this.store.path,
          tbotCommand: selfCommand(),
        });
    }
    await this.store.writeSet("identity", files);
  }
}
