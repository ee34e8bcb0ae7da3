// Versioned wire messages between tbot/tctl and tauth: JSON over HTTPS (TLS 1.2+).
// Shapes follow the reference's unified join stream (ClientInit / Challenge / Result) so
// that a move to its gRPC protocol stays a mapping exercise. Multi-step joins carry a
// server-signed continuation instead of server-side session state, so any replica of tauth
// can serve the next step (architecture guide: "Stateless join steps").

import {
  arr,
  bool,
  int,
  literal,
  MAX_KEY_CHARS,
  obj,
  opaqueObject,
  optional,
  record,
  rfc3339,
  type Schema,
  str,
} from "./validate.ts";

// The workload-identity messages (SPIFFE SVIDs) are in their own file.
export * from "./workload-messages.ts";

export const API_VERSION = "v1";

// Schemas: one per request message, next to its type; the router validates a body with its
// route's schema before the handler runs. Bounds: token names as the resource rules allow
// (1–512 printable characters without spaces), public keys 4 KiB each, method-specific join
// payloads 8 KiB of JSON (their fields are the join method's to check).
const printable = /^[\x21-\x7e]+$/;

export const paths = {
  ping: "/v1/ping",
  join: "/v1/join",
  // Everything below needs mTLS with a certificate from the cluster's user CA.
  renew: "/v1/certs/renew",
  userCerts: "/v1/certs/user",
  hostCerts: "/v1/certs/host",
  /** A database client certificate (DatabaseCertsRequest → DatabaseCertsResponse). */
  dbCerts: "/v1/certs/db",
  /** An application client certificate (AppCertsRequest → AppCertsResponse). */
  appCerts: "/v1/certs/app",
  /** X.509 SVIDs of workload identities (WorkloadX509Request → WorkloadX509Response). */
  workloadX509: "/v1/certs/workload-identity/x509",
  /** JWT SVIDs of workload identities (WorkloadJwtRequest → WorkloadJwtResponse). */
  workloadJwt: "/v1/certs/workload-identity/jwt",
  /** Public: the JWT-SVID signing keys (JWKS, RFC 7517) for JWT verifiers. */
  spiffeJwks: "/v1/spiffe/jwks.json",
  /** Public: the SPIFFE X.509 bundle (PEM) of the trust domain. */
  spiffeBundle: "/v1/spiffe/bundle.pem",
  authorities: "/v1/authorities",
  botHeartbeat: "/v1/bot-instances/heartbeat",
  nodeHeartbeat: "/v1/nodes/heartbeat",
  nodeResolve: "/v1/nodes/resolve",
  admin: "/v1/admin", // + /<operation>
} as const;

export type SignatureSuite = "balanced-v1" | "legacy";

export interface PingResponse {
  cluster_name: string;
  server_version: string;
  /** sha256:<hex> of the host CA certificate's SubjectPublicKeyInfo, one per active key. */
  ca_pins: string[];
  /** Host CA certificates (PEM) so a client can check a pin on first contact. */
  host_ca_certs: string[];
  signature_algorithm_suite: SignatureSuite;
}

/** Public halves of a key pair the client generated; the server never sees private keys. */
export interface PublicKeys {
  /** PKIX SubjectPublicKeyInfo, PEM. */
  tls_public_key: string;
  /** OpenSSH authorized_keys form ("ecdsa-sha2-nistp256 AAAA..."). */
  ssh_public_key: string;
}

export const PublicKeysSchema: Schema<PublicKeys> = obj<PublicKeys>({
  tls_public_key: str({ min: 1, max: MAX_KEY_CHARS }),
  ssh_public_key: str({ min: 1, max: MAX_KEY_CHARS }),
});

export interface ClientInit {
  /** Empty or absent means "token". */
  join_method: string;
  token_name: string;
  system_role: "Bot";
}

export const ClientInitSchema: Schema<ClientInit> = obj<ClientInit>({
  join_method: optional(
    str({
      max: 64,
      pattern: /^[a-z0-9_-]*$/,
      patternHint: "a join method name such as token or bound_keypair",
    }),
  ) as Schema<string>,
  token_name: str({
    min: 1,
    max: 512,
    pattern: printable,
    patternHint: "1 to 512 printable characters without spaces",
  }),
  system_role: literal("Bot"),
});

export interface BotParams {
  public_keys: PublicKeys;
  /** RFC 3339; the server caps it. */
  expires: string;
}

export const BotParamsSchema: Schema<BotParams> = obj<BotParams>({
  public_keys: PublicKeysSchema,
  expires: rfc3339(),
});

export interface JoinRequest {
  client_init: ClientInit;
  bot_params: BotParams;
  /** Method-specific first message (bound_keypair: initial secret, previous join state; tpm: EK/AK). */
  method_init?: Record<string, unknown>;
  /** Present on second and later steps: the continuation from the previous JoinChallenge. */
  continuation?: string;
  /** The answer to the previous challenge. */
  solution?: Record<string, unknown>;
}

export const MAX_JOIN_PAYLOAD_BYTES = 8192;

export const JoinRequestSchema: Schema<JoinRequest> = obj<JoinRequest>({
  client_init: ClientInitSchema,
  bot_params: BotParamsSchema,
  method_init: optional(opaqueObject({ maxBytes: MAX_JOIN_PAYLOAD_BYTES })),
  continuation: optional(str({ min: 1, max: 8192 })),
  solution: optional(opaqueObject({ maxBytes: MAX_JOIN_PAYLOAD_BYTES })),
});

export interface JoinChallenge {
  type: "challenge";
  /** Opaque, server-signed, short-lived and single-use. Send it back with the solution. */
  continuation: string;
  challenge: Record<string, unknown>;
}

export interface Certificates {
  /** PEM. */
  tls_cert: string;
  /** Host CA certificates, PEM: what the client trusts for the auth server. */
  tls_ca_certs: string[];
  /** authorized_keys form certificate line. */
  ssh_cert: string;
  /** Host CA public keys, authorized_keys form. */
  ssh_ca_keys: string[];
}

export interface JoinResult {
  type: "result";
  certificates: Certificates;
  bot_name: string;
  bot_instance_id: string;
  generation: number;
  /** Method-specific result (bound_keypair: join_state). */
  method_result?: Record<string, unknown>;
}

export type JoinResponse = JoinChallenge | JoinResult;

export interface RenewRequest {
  public_keys: PublicKeys;
  expires: string;
  /**
   * The agent keeps this key until the answer is saved, and sends the same key again if the
   * answer is lost: the server then serves a lost response again only to that key
   * (src/auth/generations.ts). Once an instance has renewed so, it always must.
   */
  key_kept?: boolean;
}

export const RenewRequestSchema: Schema<RenewRequest> = obj<RenewRequest>({
  public_keys: PublicKeysSchema,
  expires: rfc3339(),
  key_kept: optional(bool()),
});

export interface UserCertsRequest {
  public_keys: PublicKeys;
  expires: string;
  /** Roles to impersonate; empty means every role the bot may impersonate. */
  role_requests?: string[];
}

export const UserCertsRequestSchema: Schema<UserCertsRequest> = obj<UserCertsRequest>({
  public_keys: PublicKeysSchema,
  expires: rfc3339(),
  role_requests: optional(arr(str({ min: 1, max: 255 }), { max: 64 })),
});

export interface HostCertsRequest {
  /** authorized_keys form. */
  ssh_public_key: string;
  principals: string[];
  expires: string;
}

export const HostCertsRequestSchema: Schema<HostCertsRequest> = obj<HostCertsRequest>({
  ssh_public_key: str({ min: 1, max: MAX_KEY_CHARS }),
  principals: arr(str({ min: 1, max: 255 }), { max: 64 }),
  expires: rfc3339(),
});

export interface HostCertsResponse {
  ssh_cert: string;
  /** User CA keys, authorized_keys form, for sshd's TrustedUserCAKeys. */
  ssh_user_ca_keys: string[];
}

/**
 * POST /v1/certs/db with the bot's internal identity (as /v1/certs/user): a client certificate
 * for the database `service` (a `kind: db` resource), subject CN = `username`, signed by the
 * cluster's db_client CA, which the database trusts (PostgreSQL: ssl_ca_file from
 * `tctl auth export --type=db-client`; pg_hba `cert` maps CN to the user). The bot's roles
 * must allow it: db_labels matching the db's labels, `username` in db_users and, when given,
 * `database` in db_names (reference role spec); otherwise 403 with a one-line reason.
 */
export interface DatabaseCertsRequest {
  /** Name of the `kind: db` resource (the reference's `service`). */
  service: string;
  /** Database inside the server (checked against db_names; recorded in the certificate). */
  database?: string;
  /** Database user: the certificate's CN. */
  username: string;
  /** PKIX PEM of the key the certificate is for (the output's key). */
  tls_public_key: string;
  /** RFC 3339; capped as other output certificates (bot max_session_ttl, 24h). */
  expires: string;
}

const dbIdent = str({
  min: 1,
  max: 63,
  pattern: /^[\x21-\x7e]+$/,
  patternHint: "1 to 63 printable characters without spaces",
});

export const DatabaseCertsRequestSchema: Schema<DatabaseCertsRequest> = obj<DatabaseCertsRequest>({
  service: dbIdent,
  database: optional(dbIdent) as Schema<string>,
  username: dbIdent,
  tls_public_key: str({ min: 1, max: MAX_KEY_CHARS }),
  expires: rfc3339(),
});

export interface DatabaseCertsResponse {
  /** PEM client certificate: CN = username, OU = the db resource, issued by the db_client CA. */
  tls_cert: string;
  /**
   * The db CA (PEM), which signs database servers' certificates (`tctl auth sign --format=db`):
   * what a client verifies the database with (psql sslrootcert; the output's tls.cas,
   * mongo.cas, cockroach ca.crt and teleport-database-ca.crt).
   */
  tls_ca_certs: string[];
  /** The db_client CA (PEM) that issued tls_cert: what the database trusts (ssl_ca_file). */
  client_ca_certs: string[];
  /** RFC 3339: the certificate's notAfter. */
  expires: string;
  /** The db resource: its protocol and URI (host:port for a client to connect to). */
  db: { name: string; protocol: string; uri: string };
  username: string;
  database?: string;
}

/**
 * POST /v1/certs/app with the bot's internal identity: a client certificate for the `kind: app`
 * resource `app_name`, signed by the cluster's app CA, which the HTTPS service trusts (nginx
 * `ssl_client_certificate` from `tctl auth export --type=app`, `ssl_verify_client on`).
 * Subject: CN = bot-<name>, O = the bot's roles, OU = the app's name (nginx:
 * `$ssl_client_s_dn` holds `OU=<app>`). The bot's roles' app_labels must match the app's
 * labels; otherwise 403.
 */
export interface AppCertsRequest {
  app_name: string;
  /** PKIX PEM. */
  tls_public_key: string;
  expires: string;
}

export const AppCertsRequestSchema: Schema<AppCertsRequest> = obj<AppCertsRequest>({
  app_name: dbIdent,
  tls_public_key: str({ min: 1, max: MAX_KEY_CHARS }),
  expires: rfc3339(),
});

export interface AppCertsResponse {
  /** PEM client certificate from the app CA. */
  tls_cert: string;
  /**
   * The app CA (PEM): it issued tls_cert and signs HTTPS services' certificates made with
   * `tctl auth sign --format=app`, so it is both what the service trusts for clients and what
   * the client verifies such a service with (the output's tls.cas).
   */
  tls_ca_certs: string[];
  expires: string;
  app: { name: string; uri: string; public_addr?: string };
}

export interface CAKeySet {
  tls: string[];
  ssh: string[];
}

export interface AuthoritiesResponse {
  cluster_name: string;
  host: CAKeySet;
  user: CAKeySet;
  /** Signs database servers' certificates. */
  db: CAKeySet;
  /** Signs database clients' certificates (databases trust it); absent from older servers. */
  db_client?: CAKeySet;
  /** Signs application client (and server) certificates; absent from older servers. */
  app?: CAKeySet;
  /** The SPIFFE CA (X.509 bundle) with its trust domain and JWT-SVID JWKS; absent from older servers. */
  spiffe?: CAKeySet & { trust_domain: string; jwks: { keys: Record<string, unknown>[] } };
}

export interface NodeHeartbeat {
  name: string;
  /** host:port where sshd listens. */
  addr: string;
  labels: Record<string, string>;
  /**
   * How long the registration should last, in seconds: the host registers again on every
   * renewal, so the agent asks for a few of its renewal intervals. The server clamps it.
   */
  ttl_seconds?: number;
}

export const NodeHeartbeatSchema: Schema<NodeHeartbeat> = obj<NodeHeartbeat>({
  name: str({ min: 1, max: 253 }),
  addr: str({ min: 1, max: 300 }),
  labels: optional(record(str({ min: 1, max: 128 }), str({ max: 256 }), { maxKeys: 64 })) as Schema<
    Record<string, string>
  >,
  ttl_seconds: optional(int({ min: 0, max: 10 * 365 * 86400 })),
});

export interface NodeResolveResponse {
  name: string;
  addr: string;
}

/** One output's state in a heartbeat: its last run's health and its certificate's expiry. */
export interface HeartbeatOutput {
  name: string;
  type: string;
  healthy: boolean;
  /** Why it is not healthy ("initializing" before its first run), trimmed. */
  reason?: string;
  /** When the certificate last issued to it expires (RFC 3339), when known. */
  expires?: string;
}

/** Bounds of a heartbeat: the server refuses a bigger one (the agent trims to fit). */
export const HEARTBEAT_MAX_OUTPUTS = 64;
export const HEARTBEAT_MAX_REASON = 256;
/** The effective configuration (redacted YAML), in characters. */
export const HEARTBEAT_MAX_CONFIG = 16 << 10;

export interface BotHeartbeat {
  is_startup: boolean;
  hostname: string;
  version: string;
  uptime_seconds: number;
  one_shot: boolean;
  architecture: string;
  os: string;
  /** The rest is absent from older agents. */
  join_method?: string;
  /** The bot's renewal interval: an instance not heard from for twice this is stale. */
  renewal_interval_seconds?: number;
  outputs?: HeartbeatOutput[];
  /** The effective configuration as YAML, secrets removed (src/agent/config/redact.ts). */
  config?: string;
}

export const HeartbeatOutputSchema: Schema<HeartbeatOutput> = obj<HeartbeatOutput>({
  name: str({ max: 128 }),
  type: str({ max: 64 }),
  healthy: bool(),
  reason: optional(str({ max: HEARTBEAT_MAX_REASON })),
  expires: optional(rfc3339()),
});

export const BotHeartbeatSchema: Schema<BotHeartbeat> = obj<BotHeartbeat>({
  is_startup: bool(),
  hostname: str({ max: 255 }),
  version: str({ max: 64 }),
  uptime_seconds: int({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  one_shot: bool(),
  architecture: str({ max: 64 }),
  os: str({ max: 64 }),
  join_method: optional(str({ max: 64 })),
  renewal_interval_seconds: optional(int({ min: 0, max: 10 * 365 * 86400 })),
  outputs: optional(arr(HeartbeatOutputSchema, { max: HEARTBEAT_MAX_OUTPUTS })),
  config: optional(str({ max: HEARTBEAT_MAX_CONFIG })),
});

export interface ErrorBody {
  error: { code: string; message: string };
}
