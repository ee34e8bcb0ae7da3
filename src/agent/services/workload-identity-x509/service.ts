// The `workload-identity-x509` output (reference §1.6, §8.1): an X.509 SVID of a
// workload_identity, issued by tauth's SPIFFE CA for a fresh key each run, written as one
// atomic set: svid.pem (the SVID), svid_key.pem (its key, PKCS#8), svid_bundle.pem (the trust
// domain's CA certificates) — the names the reference's code and spiffe-helper use. A labels
// selector matching several identities writes the first one tauth issued (logged).

import { createPrivateKey } from "node:crypto";
import type { WorkloadX509Request, WorkloadX509Response } from "../../../protocol/messages.ts";
import { paths } from "../../../protocol/messages.ts";
import { logger } from "../../../util/log.ts";
import { freshKey } from "../../identity/bot-identity.ts";
import { openStore } from "../../storage/open.ts";
import type { Store } from "../../storage/store.ts";
import type { OutputService, ServiceContext } from "../service.ts";
import type { WorkloadIdentityX509Service } from "./config.ts";
import { selectorText } from "./selector.ts";

const log = logger("TBOT");
const nl = (s: string) => (s.endsWith("\n") ? s : `${s}\n`);

/** A SEC1 or PKCS#8 PEM private key as PKCS#8 PEM ("PRIVATE KEY"), as SPIFFE tools expect. */
export function pkcs8Pem(keyPem: string): string {
  return createPrivateKey(keyPem).export({ type: "pkcs8", format: "pem" }) as string;
}

export function workloadX509Files(res: WorkloadX509Response, keyPem: string): Record<string, string> {
  const svid = res.svids[0];
  if (!svid) throw new Error("tauth issued no X.509 SVID");
  return {
    "svid.pem": nl(svid.cert),
    "svid_key.pem": pkcs8Pem(keyPem),
    "svid_bundle.pem": res.bundle.map(nl).join(""),
  };
}

export class WorkloadIdentityX509Output implements OutputService {
  readonly type = "workload-identity-x509";
  readonly name: string;
  private readonly store: Store;
  constructor(
    private readonly cfg: WorkloadIdentityX509Service,
    index: number,
  ) {
    this.name = cfg.name ?? `workload-identity-x509-${index + 1}`;
    this.store = openStore(cfg.destination, "destination");
  }

  init(): Promise<void> {
    return this.store.init();
  }

  async run(ctx: ServiceContext): Promise<void> {
    const key = await freshKey();
    const ttl = this.cfg.credentialTtlMs ?? ctx.credentialTtlMs;
    const req: WorkloadX509Request = {
      selector: this.cfg.selector,
      public_key: key.publicKeys.tls_public_key,
      ttl_seconds: Math.max(1, Math.round(ttl / 1000)),
    };
    // A refusal (not granted, rules, a template attribute) is tauth's one line, before any write.
    const res = await ctx.api.post<WorkloadX509Response>(paths.workloadX509, req);
    if (res.svids.length > 1)
      log.warn("Several workload identities matched the selector; writing the first", {
        service: this.name,
        selector: selectorText(this.cfg.selector),
        written: res.svids[0]!.spiffe_id,
        matched: res.svids.map((s) => s.name).join(","),
      });
    for (const s of res.skipped)
      log.warn("Workload identity not issued", { service: this.name, identity: s.name, reason: s.reason });
    await this.store.writeSet("svid", workloadX509Files(res, key.keyPem));
  }
}
