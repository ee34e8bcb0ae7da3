// The `ssh_host` output: a host key and host certificate for sshd (HostKey,
// HostCertificate) and the user CA for TrustedUserCAKeys; then the host registers itself in
// the cluster's node inventory so clients can reach it as <node>.<cluster>.

import { generateKeyPair } from "../../../crypto/keys.ts";
import { encodeOpenSshPrivateKey, sshPublicKeyLine } from "../../../crypto/ssh/index.ts";
import type { HostCertsResponse, NodeHeartbeat } from "../../../protocol/messages.ts";
import { paths } from "../../../protocol/messages.ts";
import { openStore } from "../../storage/open.ts";
import type { Store } from "../../storage/store.ts";
import type { OutputService, ServiceContext } from "../service.ts";
import type { SshHostService } from "./config.ts";

/** The least a registration asks to last; the server gives no less either. */
const MIN_REGISTRATION_MS = 2 * 3600_000;

/**
 * How long this host's node registration should last: it registers again on every renewal,
 * so three renewal intervals ride out two failed renewals, and never less than 2 hours.
 */
export function registrationTtlSeconds(renewalIntervalMs: number): number {
  return Math.ceil(Math.max(MIN_REGISTRATION_MS, 3 * renewalIntervalMs) / 1000);
}

export class SshHostOutput implements OutputService {
  readonly type = "ssh_host";
  readonly name: string;
  private readonly store: Store;
  constructor(
    private readonly cfg: SshHostService,
    index: number,
  ) {
    this.name = cfg.name ?? `ssh-host-${index + 1}`;
    this.store = openStore(cfg.destination, "destination");
  }

  init(): Promise<void> {
    return this.store.init();
  }

  nodeName(): string {
    return this.cfg.nodeName ?? this.cfg.principals[0]!;
  }

  async run(ctx: ServiceContext): Promise<void> {
    const pair = await generateKeyPair("ed25519");
    const pub = await sshPublicKeyLine(pair.publicKey);
    const node = this.nodeName();
    const c = ctx.clusterName;
    // The host must match what clients type: its principals, and <node>.<cluster>.
    const principals = [...new Set([...this.cfg.principals, node, `${node}.${c}`])];
    const ttl = this.cfg.credentialTtlMs ?? ctx.credentialTtlMs;
    const res = await ctx.api.post<HostCertsResponse>(paths.hostCerts, {
      ssh_public_key: pub,
      principals,
      expires: new Date(Date.now() + ttl).toISOString(),
    });
    await this.store.writeSet("sshhost", {
      ssh_host: await encodeOpenSshPrivateKey(pair, node),
      "ssh_host-cert.pub": `${res.ssh_cert}\n`,
      "ssh_host-user-ca.pub": res.ssh_user_ca_keys.map((k) => `${k}\n`).join(""),
    });
    const hb: NodeHeartbeat = {
      name: node,
      addr: this.cfg.sshAddress ?? `${node}:22`,
      labels: this.cfg.labels ?? {},
      ttl_seconds: registrationTtlSeconds(ctx.renewalIntervalMs),
    };
    await ctx.api.post(paths.nodeHeartbeat, hb);
  }
}
