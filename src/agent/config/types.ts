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

/**
 * The fields every entry of `services` has (§1.5). Each output type extends it with its own
 * fields in its folder (src/agent/services/<type>/config.ts) and narrows `type`; the config
 * layer reads the type-specific part through the output registry (src/agent/services/registry.ts).
 */
export type OutputConfig = {
  /** The canonical type name (an alias in the file is stored as its canonical name). */
  type: string;
  name?: string;
  destination: Destination;
  credentialTtlMs?: number;
  renewalIntervalMs?: number;
  /** YAML `exec`: an argv run (no shell) after each successful write. */
  exec?: string[];
  /** YAML `exec_timeout`; the runtime defaults it to 30s. */
  execTimeoutMs?: number;
};

/** One entry of `services`: the common fields and the type's own (its descriptor reads them). */
export type ServiceConfig = OutputConfig & { [field: string]: unknown };

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
