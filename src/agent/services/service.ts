// An output service: one `run` that produces its files from the bot's current identity.
// Each has a name for logs and /readyz.

import type { ApiClient } from "../../protocol/client.ts";
import type { BotIdentity } from "../identity/bot-identity.ts";

export interface ServiceContext {
  /** mTLS client authenticated as the bot's internal identity. */
  api: ApiClient;
  identity: BotIdentity;
  clusterName: string;
  /** The address tbot talks to, host and port separately (for known_hosts and ssh_config). */
  serverHost: string;
  serverPort: number;
  credentialTtlMs: number;
  /** How often the bot runs every output again (the bot's renewal_interval). */
  renewalIntervalMs: number;
}

export interface OutputService {
  readonly name: string;
  readonly type: string;
  /** Prepare the destination (write test). */
  init(): Promise<void>;
  run(ctx: ServiceContext): Promise<void>;
  /** Release what `run` started (a listening socket): called once when the bot stops. */
  stop?(): Promise<void>;
}
