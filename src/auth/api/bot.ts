// Routes for bots and other identities over mTLS: renewal, output certificates, host
// certificates, CA retrieval, heartbeats, node lookup. Plus the public ping and join.

import type {
  AppCertsRequest,
  BotHeartbeat,
  DatabaseCertsRequest,
  HostCertsRequest,
  JoinRequest,
  NodeHeartbeat,
  RenewRequest,
  UserCertsRequest,
  WorkloadJwtRequest,
  WorkloadX509Request,
} from "../../protocol/messages.ts";
import {
  AppCertsRequestSchema,
  BotHeartbeatSchema,
  DatabaseCertsRequestSchema,
  HostCertsRequestSchema,
  JoinRequestSchema,
  NodeHeartbeatSchema,
  paths,
  RenewRequestSchema,
  UserCertsRequestSchema,
  WorkloadJwtRequestSchema,
  WorkloadX509RequestSchema,
} from "../../protocol/messages.ts";
import { renewBotIdentity } from "../bot-identity.ts";
import { issueAppCert, issueDatabaseCert } from "../db-app-certs.ts";
import { recordBotHeartbeat } from "../heartbeats.ts";
import type { Route } from "../http/router.ts";
import { RawResponse } from "../http/server.ts";
import { metricsSink, observed } from "../metrics/observer.ts";
import { nodeHeartbeat, resolveNode } from "../nodes.ts";
import { issueHostCerts, issueOutputCerts } from "../output-certs.ts";
import type { AuthService } from "../service.ts";
import { issueJwtSvids, issueX509Svids } from "../workload-identity-certs.ts";
import { handleJoin } from "./join.ts";

function spiffeBundleResponse(svc: AuthService): RawResponse {
  const pem = svc.authorities.spiffe.tlsCert;
  return new RawResponse(pem, {
    "content-type": "application/x-pem-file",
    "content-length": String(Buffer.byteLength(pem)),
  });
}

/** Body caps: a join or a certificate request is a few KiB at most (keys ≤ 4 KiB each). */
const JOIN_MAX_BODY = 16 << 10;
const CERTS_MAX_BODY = 16 << 10;
const HEARTBEAT_MAX_BODY = 64 << 10;

export function botRoutes(svc: AuthService): Route[] {
  return [
    { method: "GET", path: paths.ping, access: "public", handle: async () => svc.ping() },
    {
      method: "POST",
      path: paths.join,
      access: "public",
      body: JoinRequestSchema,
      maxBody: JOIN_MAX_BODY,
      rateLimitUnauthenticated: true,
      handle: (c) =>
        handleJoin(svc, c.body as JoinRequest, c.remoteAddr, c.caller?.botName ? c.caller : undefined),
    },
    {
      method: "POST",
      path: paths.renew,
      access: "bot",
      body: RenewRequestSchema,
      maxBody: CERTS_MAX_BODY,
      // Only token-joined identities are renewable: the renewal's method is token.
      handle: (c) =>
        observed(
          () => renewBotIdentity(svc, c.caller!, c.body as RenewRequest, c.remoteAddr),
          (o) => metricsSink()?.renewal("token", o),
        ),
    },
    {
      method: "POST",
      path: paths.userCerts,
      access: "bot",
      body: UserCertsRequestSchema,
      maxBody: CERTS_MAX_BODY,
      handle: (c) => issueOutputCerts(svc, c.caller!, c.body as UserCertsRequest),
    },
    {
      method: "POST",
      path: paths.hostCerts,
      access: "bot",
      body: HostCertsRequestSchema,
      maxBody: CERTS_MAX_BODY,
      handle: (c) => issueHostCerts(svc, c.caller!, c.body as HostCertsRequest),
    },
    {
      method: "POST",
      path: paths.dbCerts,
      access: "bot",
      body: DatabaseCertsRequestSchema,
      maxBody: CERTS_MAX_BODY,
      handle: (c) => issueDatabaseCert(svc, c.caller!, c.body as DatabaseCertsRequest),
    },
    {
      method: "POST",
      path: paths.appCerts,
      access: "bot",
      body: AppCertsRequestSchema,
      maxBody: CERTS_MAX_BODY,
      handle: (c) => issueAppCert(svc, c.caller!, c.body as AppCertsRequest),
    },
    {
      method: "POST",
      path: paths.workloadX509,
      access: "bot",
      body: WorkloadX509RequestSchema,
      maxBody: CERTS_MAX_BODY,
      handle: (c) => issueX509Svids(svc, c.caller!, c.body as WorkloadX509Request),
    },
    {
      method: "POST",
      path: paths.workloadJwt,
      access: "bot",
      body: WorkloadJwtRequestSchema,
      maxBody: CERTS_MAX_BODY,
      handle: (c) => issueJwtSvids(svc, c.caller!, c.body as WorkloadJwtRequest),
    },
    // Public: a JWT-SVID verifier (any relying party) needs the keys, a workload the bundle.
    { method: "GET", path: paths.spiffeJwks, access: "public", handle: async () => svc.authorities.jwks() },
    {
      method: "GET",
      path: paths.spiffeBundle,
      access: "public",
      raw: true,
      handle: async () => spiffeBundleResponse(svc),
    },
    {
      method: "GET",
      path: paths.authorities,
      access: "identity",
      handle: async () => {
        const a = svc.authorities;
        return {
          cluster_name: svc.clusterName,
          host: { tls: [a.host.tlsCert], ssh: [a.host.sshPublic!] },
          user: { tls: [a.user.tlsCert], ssh: [a.user.sshPublic!] },
          db: { tls: [a.db.tlsCert], ssh: [] },
          db_client: { tls: [a.dbClient.tlsCert], ssh: [] },
          app: { tls: [a.app.tlsCert], ssh: [] },
          spiffe: { tls: [a.spiffe.tlsCert], ssh: [], trust_domain: a.trustDomain, jwks: a.jwks() },
        };
      },
    },
    {
      method: "POST",
      path: paths.botHeartbeat,
      access: "bot",
      body: BotHeartbeatSchema,
      // Outputs and a configuration of up to 16 KiB (the schema's caps).
      maxBody: HEARTBEAT_MAX_BODY,
      handle: (c) => recordBotHeartbeat(svc, c.caller!, c.body as BotHeartbeat),
    },
    {
      method: "POST",
      path: paths.nodeHeartbeat,
      access: "bot",
      body: NodeHeartbeatSchema,
      maxBody: CERTS_MAX_BODY,
      handle: (c) => nodeHeartbeat(svc, c.caller!, c.body as NodeHeartbeat),
    },
    {
      method: "GET",
      path: paths.nodeResolve,
      access: "identity",
      handle: (c) => resolveNode(svc, c.caller!, c.query.get("host") ?? ""),
    },
  ];
}
