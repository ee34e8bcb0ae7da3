// Versioned wire messages between tbot/tctl and tauth: JSON over HTTPS (TLS 1.2+).
// Shapes follow the reference's unified join stream (ClientInit / Challenge / Result) so
// that a move to its gRPC protocol stays a mapping exercise. Multi-step joins carry a
// server-signed continuation instead of server-side session state, so any replica of tauth
// can serve the next step (architecture guide: "Stateless join steps").

export const API_VERSION = "v1";

export const paths = {
  ping: "/v1/ping",
  join: "/v1/join",
  // Everything below needs mTLS with a certificate from the cluster's user CA.
  renew: "/v1/certs/renew",
  userCerts: "/v1/certs/user",
  hostCerts: "/v1/certs/host",
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

export interface ClientInit {
  join_method: string;
  token_name: string;
  system_role: "Bot";
}

export interface BotParams {
  public_keys: PublicKeys;
  /** RFC 3339; the server caps it. */
  expires: string;
}

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
}

export interface UserCertsRequest {
  public_keys: PublicKeys;
  expires: string;
  /** Roles to impersonate; empty means every role the bot may impersonate. */
  role_requests?: string[];
}

export interface HostCertsRequest {
  /** authorized_keys form. */
  ssh_public_key: string;
  principals: string[];
  expires: string;
}

export interface HostCertsResponse {
  ssh_cert: string;
  /** User CA keys, authorized_keys form, for sshd's TrustedUserCAKeys. */
  ssh_user_ca_keys: string[];
}

export interface CAKeySet {
  tls: string[];
  ssh: string[];
}

export interface AuthoritiesResponse {
  cluster_name: string;
  host: CAKeySet;
  user: CAKeySet;
  db: CAKeySet;
}

export interface NodeHeartbeat {
  name: string;
  /** host:port where sshd listens. */
  addr: string;
  labels: Record<string, string>;
}

export interface NodeResolveResponse {
  name: string;
  addr: string;
}

export interface BotHeartbeat {
  is_startup: boolean;
  hostname: string;
  version: string;
  uptime_seconds: number;
  one_shot: boolean;
  architecture: string;
  os: string;
}

export interface ErrorBody {
  error: { code: string; message: string };
}
