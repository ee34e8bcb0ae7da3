// The in-memory shape of tbot.yaml (version v2). Field names are camelCase here and
// snake_case in YAML; durations are milliseconds. Everything downstream of the config
// layer (storage, join, services) reads only this shape, never YAML.

import type { BoundKeypairOnboarding } from "../../join/bound-keypair/onboarding.ts";

export type DirectoryReader = { user: string } | { group: string };

export type Destination =
  | {
      type: "directory";
      path: string;
      symlinks: "try-secure" | "secure" | "insecure";
      acls: "try" | "off" | "required";
      readers: DirectoryReader[];
    }
  | { type: "memory" };

export type DirectoryDestination = Extract<Destination, { type: "directory" }>;

export interface IdentityService {
  type: "identity";
  name?: string;
  destination: Destination;
  sshConfig: boolean;
  allowReissue: boolean;
  cluster?: string;
  credentialTtlMs?: number;
  renewalIntervalMs?: number;
}

export interface SshHostService {
  type: "ssh_host";
  name?: string;
  destination: Destination;
  principals: string[];
  caType: "user" | "openssh";
  credentialTtlMs?: number;
  renewalIntervalMs?: number;
  // Our extensions, so that the host can register itself in the cluster's node inventory:
  /** YAML `node_name`; the runtime defaults it to principals[0]. */
  nodeName?: string;
  /** YAML `ssh_address` (host:port); the runtime defaults it to "<node_name>:22". */
  sshAddress?: string;
  /** YAML `labels`. */
  labels: Record<string, string>;
}

export type ServiceConfig = IdentityService | SshHostService;

export interface Onboarding {
  /** "" when unset. */
  joinMethod: string;
  /** A token value or a path to a file holding it; resolved at join time, not here. */
  token?: string;
  caPins: string[];
  caPath?: string;
  /**
   * `onboarding.bound_keypair`, named here because the CLI's flags set it. Other methods'
   * blocks are kept under the field their descriptor names (see method-settings.ts).
   */
  boundKeypair?: BoundKeypairOnboarding;
}

export interface BotConfig {
  version: "v2";
  proxyServer?: string;
  authServer?: string;
  joinUri?: string;
  onboarding: Onboarding;
  storage: Destination;
  services: ServiceConfig[];
  credentialTtlMs: number;
  renewalIntervalMs: number;
  oneshot: boolean;
  debug: boolean;
  diagAddr?: string;
  insecure: boolean;
  fips: boolean;
}

export interface ParsedConfig {
  config: BotConfig;
  warnings: string[];
}
