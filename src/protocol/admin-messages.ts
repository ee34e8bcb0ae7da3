// Bodies of POST /v1/admin/<op> (tctl → tauth), one schema per operation; a field added to
// an operation must be added here too (unknown fields are refused). Every field is
// optional here, as the handlers give each a default or a precise "is required" message; what
// the schema adds is types and bounds, so a number where a name goes, a null list or a
// 100,000-entry array is a 400 before any handler runs. Resources in `create` are objects
// here; their contents are checked by the resource rules (src/auth/resources).

import {
  anyObject,
  arr,
  bool,
  obj as fieldsOf,
  int,
  optional,
  rfc3339,
  type Schema,
  str,
} from "./validate.ts";

/**
 * Listings are paged: a request reads at most `limit` items (MAX_ADMIN_PAGE at most,
 * DEFAULT_ADMIN_PAGE when absent) after `start_after`, and the answer's `next` is where the
 * following page starts (absent after the last).
 */
export const MAX_ADMIN_PAGE = 1000;
export const DEFAULT_ADMIN_PAGE = 500;

// tctl ships with tauth: a field tauth does not know is a mistake, refused with its name.
const obj = <T extends object>(fields: Parameters<typeof fieldsOf<T>>[0]): Schema<T> =>
  fieldsOf<T>(fields, { unknown: "reject" });

const name = optional(str({ max: 512 }));
const short = optional(str({ max: 64 }));
const names = optional(arr(str({ max: 255 }), { max: 256 }));
const page = {
  limit: optional(int({ min: 1, max: MAX_ADMIN_PAGE })),
  // A cursor: a key suffix (a bot/instance pair, a token hash, an audit event ID).
  start_after: optional(str({ max: 1024 })),
};

/**
 * A resource in `create`: an object with a string kind and a metadata object, passed on whole
 * (the resource rules check every field, with their own messages, including unknown ones).
 */
const envelope = fieldsOf<{ kind: string; metadata: Record<string, unknown> }>({
  kind: str({ min: 1, max: 64 }),
  metadata: anyObject(),
});
const resource: Schema<Record<string, unknown>> = {
  parse(v, path) {
    envelope.parse(v, path);
    return v as Record<string, unknown>;
  },
};

export interface AdminCreateBody {
  resources?: Record<string, unknown>[];
  upsert?: boolean;
}
export interface AdminKindNameBody {
  kind?: string;
  name?: string;
}
export interface AdminPageBody {
  limit?: number;
  start_after?: string;
}
export interface AdminGetBody extends AdminKindNameBody, AdminPageBody {
  /** bot_instance: only this bot's instances. */
  bot?: string;
}
export interface AdminAuditBody extends AdminPageBody {
  since?: string;
  until?: string;
  kinds?: string[];
  bot?: string;
}
export interface AdminBotsAddBody {
  name?: string;
  roles?: string[];
  logins?: string[];
  ttl?: string;
  max_session_ttl?: string;
  join_method?: string;
}
export interface AdminNameBody {
  name?: string;
}
export interface AdminRotateBody {
  token?: string;
}
export interface AdminInstancesAddBody {
  bot?: string;
  ttl?: string;
}
export interface AdminTokensAddBody {
  type?: string;
  bot_name?: string;
  ttl?: string;
}
export interface AdminLocksCreateBody {
  bot?: string;
  bot_instance_id?: string;
  admin_identity?: string;
  message?: string;
}
export interface AdminExportBody {
  type?: string;
}
/** `tctl auth sign`: a server certificate for the public key, by format (db, app). */
export interface AdminSignBody {
  format?: string;
  hosts?: string[];
  public_key?: string;
  ttl?: string;
}

export const adminSchemas = {
  status: obj<Record<string, never>>({}),
  create: obj<AdminCreateBody>({
    resources: optional(arr(resource, { max: 1000 })),
    upsert: optional(bool()),
  }),
  get: obj<AdminGetBody>({ kind: short, name, bot: name, ...page }),
  audit: obj<AdminAuditBody>({
    since: optional(rfc3339()),
    until: optional(rfc3339()),
    kinds: optional(arr(str({ min: 1, max: 255 }), { max: 32 })),
    bot: name,
    ...page,
  }),
  delete: obj<AdminKindNameBody>({ kind: short, name }),
  botsAdd: obj<AdminBotsAddBody>({
    name,
    roles: names,
    logins: names,
    ttl: short,
    max_session_ttl: short,
    join_method: short,
  }),
  rotate: obj<AdminRotateBody>({ token: name }),
  botsRm: obj<AdminNameBody>({ name }),
  instancesAdd: obj<AdminInstancesAddBody>({ bot: name, ttl: short }),
  tokensAdd: obj<AdminTokensAddBody>({ type: short, bot_name: name, ttl: short }),
  locksCreate: obj<AdminLocksCreateBody>({
    bot: name,
    bot_instance_id: name,
    admin_identity: name,
    message: optional(str({ max: 1024 })),
  }),
  authoritiesExport: obj<AdminExportBody>({ type: short }),
  authoritiesSign: obj<AdminSignBody>({
    format: short,
    hosts: optional(arr(str({ min: 1, max: 253 }), { max: 32 })),
    public_key: optional(str({ max: 4096 })),
    ttl: short,
  }),
} as const;
