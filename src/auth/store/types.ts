// Resources the server creates itself (never from user YAML): bot instances, locks, nodes.
// Shapes follow the reference's kinds so `tctl get` shows familiar documents.

import type { BotHeartbeat } from "../../protocol/messages.ts";
import type { GenerationState } from "../generations.ts";

export interface Authentication {
  authenticated_at: string;
  join_method: string;
  /** For the `token` method this is a masked hint, never the secret. */
  join_token: string;
  generation: number;
  public_key: string;
  remote_addr?: string;
  /**
   * What this join proved, for workload identity templates (`join.*`): `meta` (join_method,
   * join_token_name) and the method's verified non-secret claims. Absent on renewals.
   */
  join_attrs?: Record<string, unknown>;
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
  /** `generation` and the serials of its certificates: the rules in src/auth/generations.ts. */
  status: GenerationState & {
    initial_authentication: Authentication;
    latest_authentications: Authentication[];
    latest_heartbeats: Heartbeat[];
    /** The first heartbeat (the reference's field), kept when the bounded history moves on; no config. */
    initial_heartbeat?: Heartbeat;
  };
}

export interface LockTarget {
  bot?: string;
  bot_instance_id?: string;
  join_token?: string;
  /** The ID of an admin identity (tctl lock --admin ID). */
  admin_identity?: string;
}

/**
 * The record of one admin identity (an identity file with the Admin system role). Its ID is
 * in the certificate; an admin certificate without a live record here is refused, and a lock
 * on the ID revokes it. Kept until the certificate expires.
 */
export interface AdminIdentity {
  kind: "admin_identity";
  version: "v1";
  metadata: { name: string; expires: string };
  spec: {
    created_at: string;
    /** "tauth start" (the data directory's admin-identity) or "tauth admin-identity". */
    created_by: string;
    /** The OS user and host that ran it, and the file it was written to. */
    os_user: string;
    host: string;
    file: string;
    serial: string;
  };
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
