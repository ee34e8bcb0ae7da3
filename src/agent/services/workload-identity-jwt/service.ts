// The `workload-identity-jwt` output (reference §1.6, §8.1): a JWT SVID of a workload_identity
// for the configured audiences, signed by tauth's SPIFFE JWT key, written as `jwt_svid` (the
// compact JWS, one line). Verifiers take the keys from tauth's /v1/spiffe/jwks.json.

import type { WorkloadJwtRequest, WorkloadJwtResponse } from "../../../protocol/messages.ts";
import { paths } from "../../../protocol/messages.ts";
import { logger } from "../../../util/log.ts";
import { openStore } from "../../storage/open.ts";
import type { Store } from "../../storage/store.ts";
import type { OutputService, ServiceContext } from "../service.ts";
import { selectorText } from "../workload-identity-x509/selector.ts";
import type { WorkloadIdentityJwtService } from "./config.ts";

const log = logger("TBOT");

export class WorkloadIdentityJwtOutput implements OutputService {
  readonly type = "workload-identity-jwt";
  readonly name: string;
  private readonly store: Store;
  constructor(
    private readonly cfg: WorkloadIdentityJwtService,
    index: number,
  ) {
    this.name = cfg.name ?? `workload-identity-jwt-${index + 1}`;
    this.store = openStore(cfg.destination, "destination");
  }

  init(): Promise<void> {
    return this.store.init();
  }

  async run(ctx: ServiceContext): Promise<void> {
    const ttl = this.cfg.credentialTtlMs ?? ctx.credentialTtlMs;
    const req: WorkloadJwtRequest = {
      selector: this.cfg.selector,
      audiences: this.cfg.audiences,
      ttl_seconds: Math.max(1, Math.round(ttl / 1000)),
    };
    const res = await ctx.api.post<WorkloadJwtResponse>(paths.workloadJwt, req);
    const svid = res.svids[0];
    if (!svid) throw new Error("tauth issued no JWT SVID");
    if (res.svids.length > 1)
      log.warn("Several workload identities matched the selector; writing the first", {
        service: this.name,
        selector: selectorText(this.cfg.selector),
        written: svid.spiffe_id,
        matched: res.svids.map((s) => s.name).join(","),
      });
    await this.store.writeSet("jwtsvid", { jwt_svid: svid.token });
  }
}
