// Resource shapes, exactly as the reference's YAML writes them, so that `tctl get` output
// re-applies with `tctl create -f` and operators' files from Teleport's guides load as written.

export interface Metadata {
  name: string;
  description?: string;
  labels?: Record<string, string>;
  /** RFC 3339. */
  expires?: string;
  revision?: string;
}

export interface BotResource {
  kind: "bot";
  version: "v1";
  metadata: Metadata;
  spec: { roles: string[]; traits: { name: string; values: string[] }[]; max_session_ttl?: string };
  status?: { user_name: string; role_name: string };
}

export interface TokenResource {
  kind: "token";
  version: "v2";
  metadata: Metadata;
  spec: TokenSpec;
  status?: { bound_keypair?: BoundKeypairStatus };
}

export interface TokenSpec {
  roles: string[];
  join_method: string;
  bot_name?: string;
  bound_keypair?: BoundKeypairSpec;
  tpm?: TpmSpec;
  /** Blocks of join methods we do not implement (github, gitlab, …), kept untouched. */
  [other: string]: unknown;
}

export interface BoundKeypairSpec {
  onboarding: { initial_public_key?: string; registration_secret?: string; must_register_before?: string };
  recovery: { mode: "standard" | "relaxed" | "insecure"; limit: number };
  rotate_after?: string;
}

export interface BoundKeypairStatus {
  registration_secret?: string;
  bound_public_key?: string;
  bound_bot_instance_id?: string;
  recovery_count?: number;
  last_recovered_at?: string;
  last_rotated_at?: string;
  /**
   * Ours: the join state the last binding join (registration, initial key, recovery) presented
   * ({} for none). A join presenting it again while the instance it made is unused is that
   * join's lost response, served again without using another recovery.
   */
  joined_from?: { bot_instance_id?: string; recovery_sequence?: number };
}

export interface TpmSpec {
  allow: { description?: string; ek_public_hash?: string; ek_certificate_serial?: string }[];
  ekcert_allowed_cas?: string[];
}

export interface RoleResource {
  kind: "role";
  /** v3 … v8. */
  version: string;
  metadata: Metadata;
  spec: {
    allow: RoleConditions;
    deny: RoleConditions;
    options: { max_session_ttl?: string; [k: string]: unknown };
  };
}

export interface RoleConditions {
  logins?: string[];
  node_labels?: Record<string, string | string[]>;
  /** Databases (kind db) by their labels; db_users and db_names: whom and what they may request. */
  db_labels?: Record<string, string | string[]>;
  db_users?: string[];
  db_names?: string[];
  /** Applications (kind app) by their labels. */
  app_labels?: Record<string, string | string[]>;
  /** Workload identities (kind workload_identity) by their labels. */
  workload_identity_labels?: Record<string, string | string[]>;
  /** Teleport's other condition fields (app_labels, rules, impersonate, …), kept untouched. */
  [k: string]: unknown;
}

/** kind: app, version v3: an HTTPS service that verifies clients with the cluster's app CA. */
export interface AppResource {
  kind: "app";
  version: "v3";
  metadata: Metadata;
  spec: { uri: string; public_addr?: string; [other: string]: unknown };
}

/** kind: db, version v3: a database that trusts the cluster's db_client CA. */
export interface DatabaseResource {
  kind: "db";
  version: "v3";
  metadata: Metadata;
  spec: { protocol: string; uri: string; [other: string]: unknown };
}

/** One condition of a workload identity rule: an attribute compared with eq/not_eq/in/not_in. */
export interface WorkloadIdentityCondition {
  attribute: string;
  eq?: { value: string };
  not_eq?: { value: string };
  in?: { values: string[] };
  not_in?: { values: string[] };
}

/**
 * kind: workload_identity, version v1 (the reference's WorkloadIdentity): the SPIFFE ID (a path
 * template) and credential settings of what a bot may issue to workloads, and the rules over
 * join, workload and user attributes that decide whether it may.
 */
export interface WorkloadIdentityResource {
  kind: "workload_identity";
  version: "v1";
  metadata: Metadata;
  spec: {
    rules?: { allow?: { conditions?: WorkloadIdentityCondition[] }[] };
    spiffe: {
      /** Path of the SPIFFE ID ("/svc/{{ user.bot_name }}"), templated. */
      id: string;
      hint?: string;
      x509?: {
        dns_sans?: string[];
        subject_template?: { common_name?: string; organization?: string; organizational_unit?: string };
        /** Go duration; default 24h. */
        maximum_ttl?: string;
      };
      jwt?: { extra_claims?: Record<string, unknown>; maximum_ttl?: string };
    };
  };
}

export type Resource =
  | BotResource
  | TokenResource
  | RoleResource
  | AppResource
  | DatabaseResource
  | WorkloadIdentityResource;
