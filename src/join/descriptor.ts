// What a join method tells the rest of the system about itself: one descriptor per method,
// exported by src/join/<method>/index.ts and listed once in src/join/registry.ts. The auth
// service, the token resource rules and the agent's config and join code find everything
// method-specific through it (the reference's tbot registers its methods in one table too).
//
// The halves that do the work are behind functions that import them on demand: `tbot` reads
// the registry to check its config and must not load server code, nor the TPM's libraries
// unless it joins with a TPM.

import type { Cursor } from "../resources/cursor.ts";
import type { YNode } from "../util/yaml-source.ts";
import type { JoinMethodClient } from "./client.ts";
import type { JoinMethodServer } from "./types.ts";

export interface JoinMethodDescriptor {
  /** The name in `spec.join_method` and `onboarding.join_method`. */
  readonly name: string;
  /**
   * Whether a join issues a renewable certificate (renewed with the generation counter); the
   * others renew by joining again over mTLS.
   */
  readonly renewable: boolean;
  /** The method's block of a `kind: token` v2 spec (e.g. `tpm:`), if it has one. */
  readonly tokenSpec?: TokenSpecBlock;
  /** The method's block under `onboarding:` in tbot.yaml, if it has one. */
  readonly onboarding?: OnboardingBlock;
  /** The client half, given the bot's settings. */
  client(options: JoinClientOptions): Promise<JoinMethodClient>;
  /** The server half. */
  server(): Promise<JoinMethodServer>;
}

export interface TokenSpecBlock {
  /** The key under `spec:`; for the reference's methods, the method's name. */
  readonly key: string;
  /**
   * Reads and checks the block when the token's join_method is this method (`node` may be
   * missing), returning it with its defaults applied: what is stored. Errors point at the
   * node (or at `joinMethodNode` when the block is missing but required).
   */
  read(node: Cursor, joinMethodNode: Cursor): unknown;
  /**
   * Methods this build does not implement that use the same key (iam's `allow` is ec2's too):
   * with one of them as join_method the block is kept as written instead of refused.
   */
  readonly sharedWith?: readonly string[];
}

/** The agent's small helpers for tbot.yaml values, handed to a method's onboarding reader. */
export interface OnboardingReadKit {
  /** A non-empty string exactly as written (a `0123` stays "0123"); "" is an error at its place. */
  nonEmptyText(node: YNode): string;
  /** Remembers where a setting was written (key e.g. "onboarding.bound_keypair.x"), for later messages. */
  note(key: string, node: YNode): void;
}

export interface OnboardingBlock<Settings = unknown> {
  /** The key under `onboarding:`, e.g. "bound_keypair". */
  readonly key: string;
  /** The field of the agent's parsed onboarding settings that holds them, e.g. "boundKeypair". */
  readonly field: string;
  read(node: YNode, kit: OnboardingReadKit): Settings;
  /** The block as `tbot configure` writes it back (YAML keys). */
  render(settings: Settings): Record<string, unknown>;
  /** Makes relative paths absolute, in place (`tbot start` resolves them once, at start). */
  resolvePaths(settings: Settings, abs: (path: string) => string): void;
  /** A cross-field problem after flags were laid over the file: [setting key, message]. */
  problem?(settings: Settings): [key: string, message: string] | undefined;
}

/** The part of the bot's storage a method may keep state in (written as atomic sets). */
export interface MethodStorage {
  read(name: string): Promise<string | null>;
  writeSet(setName: string, files: Record<string, string>): Promise<void>;
}

export interface JoinClientOptions {
  /** The method's onboarding settings as its reader returned them (undefined: block absent). */
  settings: unknown;
  /** The join URI's method parameter (bound_keypair: the registration secret). */
  uriParameter?: string;
  storage: MethodStorage;
  debug: boolean;
  /** The cluster's name (from the first ping, or the identity being refreshed): ID-token audience. */
  clusterName?: string;
}
