// Resources the server creates itself (never from user YAML): bot instances, locks, nodes.
// Shapes follow the reference's kinds so `tctl get` shows familiar documents.

import type { BotHeartbeat } from "../../protocol/messages.ts";

export interface Authentication {
  authenticated_at: string;
  join_method: string;
  /** For the `token` method this is a masked hint, never the secret. */
  join_token: string;
  generation: number;
  public_key: string;
  remote_addr?: string;
}

/** A heartbeat as the bot sent it, with the time the server recorded it. */
export interface Heartbeat extends BotHeartbeat {
  recorded_at: string;
}

export interface BotInstance {
  kind: "bot_instance";
  version: "v1";
  metadata: { name: string; expires?: string };
  spec: { bot_name: string; instance_id: string };
  status: {
    /** The generation the next renewal must present (renewable identities). */
    generation: number;
    initial_authentication: Authentication;
    latest_authentications: Authentication[];
    latest_heartbeats: Heartbeat[];
  };
}

export interface LockTarget {
  bot?: string;
  bot_instance_id?: string;
  join_token?: string;
}

export interface Lock {
  kind: "lock";
  version: "v2";
  metadata: { name: string };
  spec: { target: LockTarget; message: string; created_at: string; created_by: string };
}

export interface NodeResource {
  kind: "node";
  version: "v2";
  metadata: { name: string; labels: Record<string, string>; expires: string };
  spec: { addr: string; bot_name: string; bot_instance_id: string };
  status: { last_heartbeat: string };
}

/** Bounded histories, as the reference keeps them. */
export const MAX_AUTHENTICATIONS = 10;
export const MAX_HEARTBEATS = 10;
