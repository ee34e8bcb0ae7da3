// Routes for bots and other identities over mTLS: renewal, output certificates, host
// certificates, CA retrieval, heartbeats, node lookup. Plus the public ping and join.

import type {
  BotHeartbeat,
  HostCertsRequest,
  JoinRequest,
  NodeHeartbeat,
  RenewRequest,
  UserCertsRequest,
} from "../../protocol/messages.ts";
import { paths } from "../../protocol/messages.ts";
import { isCode } from "../../util/errors.ts";
import { instanceKey, issueHostCerts, issueOutputCerts, renewBotIdentity } from "../bot-identity.ts";
import type { Route } from "../http/router.ts";
import { nodeHeartbeat, resolveNode } from "../nodes.ts";
import type { AuthService } from "../service.ts";
import { MAX_HEARTBEATS } from "../store/types.ts";
import { handleJoin } from "./join.ts";

export function botRoutes(svc: AuthService): Route[] {
  return [
    { method: "GET", path: paths.ping, access: "public", handle: async () => svc.ping() },
    {
      method: "POST",
      path: paths.join,
      access: "public",
      handle: (c) =>
        handleJoin(svc, c.body as JoinRequest, c.remoteAddr, c.caller?.botName ? c.caller : undefined),
    },
    {
      method: "POST",
      path: paths.renew,
      access: "bot",
      handle: (c) => renewBotIdentity(svc, c.caller!, c.body as RenewRequest, c.remoteAddr),
    },
    {
      method: "POST",
      path: paths.userCerts,
      access: "bot",
      handle: (c) => issueOutputCerts(svc, c.caller!, c.body as UserCertsRequest),
    },
    {
      method: "POST",
      path: paths.hostCerts,
      access: "bot",
      handle: (c) => issueHostCerts(svc, c.caller!, c.body as HostCertsRequest),
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
        };
      },
    },
    {
      method: "POST",
      path: paths.botHeartbeat,
      access: "bot",
      handle: async (c) => {
        const hb = c.body as BotHeartbeat;
        const key = instanceKey(c.caller!.botName!, c.caller!.botInstanceId!);
        // Best effort: retry a few times on concurrent updates, never fail the bot for it.
        for (let i = 0; i < 5; i++) {
          const cur = await svc.instances.get(key);
          if (!cur) return { ok: false };
          const next = structuredClone(cur.value);
          next.status.latest_heartbeats = [
            ...next.status.latest_heartbeats,
            { ...hb, recorded_at: new Date().toISOString() },
          ].slice(-MAX_HEARTBEATS);
          try {
            await svc.instances.compareAndSwap(key, cur.revision, next, cur.expires);
            return { ok: true };
          } catch (e) {
            if (!isCode(e, "compare_failed")) throw e;
          }
        }
        return { ok: false };
      },
    },
    {
      method: "POST",
      path: paths.nodeHeartbeat,
      access: "bot",
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
