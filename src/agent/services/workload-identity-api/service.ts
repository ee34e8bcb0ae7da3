// The `workload-identity-api` service (reference §1.6): the SPIFFE Workload API (gRPC) on a Unix
// socket, for workloads attested by the unix attestor, with SVIDs tauth issues for the
// service's selector and the workload's attributes. Started at the first run (after the bot's
// first identity and the trust bundle); each later run (after every renewal of the bot's
// identity, SIGHUP included) renews the cached SVIDs and pushes them to open streams.

import { logger } from "../../../util/log.ts";
import { startWorkloadApi, type WorkloadApiServer } from "../../workload-api/index.ts";
import type { OutputService, ServiceContext } from "../service.ts";
import type { WorkloadIdentityApiService } from "./config.ts";
import { TauthWorkloadSource } from "./source.ts";

const log = logger("TBOT");

export class WorkloadIdentityApiOutput implements OutputService {
  readonly type = "workload-identity-api";
  readonly name: string;
  private server?: WorkloadApiServer;
  private readonly source: TauthWorkloadSource;
  private ttlMs = 3_600_000;

  constructor(
    private readonly cfg: WorkloadIdentityApiService,
    index: number,
  ) {
    this.name = cfg.name ?? `workload-identity-api-${index + 1}`;
    this.source = new TauthWorkloadSource(this.name, cfg.selector, () => this.ttlMs);
  }

  async init(): Promise<void> {}

  async run(ctx: ServiceContext): Promise<void> {
    this.ttlMs = this.cfg.credentialTtlMs ?? ctx.credentialTtlMs;
    await this.source.refresh(ctx);
    if (!this.server) {
      this.server = await startWorkloadApi({ listen: this.cfg.listen, source: this.source });
      log.info("Workload API listening", { service: this.name, listen: this.cfg.listen });
    }
  }

  async stop(): Promise<void> {
    this.source.close();
    const s = this.server;
    this.server = undefined;
    if (s) await s.close();
  }
}
