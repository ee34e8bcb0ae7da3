// The node inventory: hosts running an ssh_host output register (name, SSH address, labels)
// so that `tbot ssh-proxy-command` can find `<node>.<cluster>` without DNS.

import type { TlsIdentity } from "../crypto/tls-identity.ts";
import type { NodeHeartbeat, NodeResolveResponse } from "../protocol/messages.ts";
import { accessDenied, badParameter, notFound } from "../util/errors.ts";
import { requireBot } from "./bot-identity.ts";
import { assertInternalIdentity, canCreateHostCerts, rolesNamed } from "./output-certs.ts";
import { rolesAllowNode } from "./resources/index.ts";
import type { AuthService } from "./service.ts";
import type { NodeResource } from "./store/types.ts";

const NODE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,252}$/;
/**
 * A node that stops registering disappears from the inventory after its TTL. Hosts register
 * on every renewal and ask for a few renewal intervals (ttl_seconds); the TTL is never
 * shorter than NODE_TTL_MS (what hosts that do not ask get) nor longer than NODE_TTL_MAX_MS
 * (three times the longest credential lifetime, 24h: a host renewing less often than that
 * has expired credentials anyway), so a dead host still drops out within three days.
 */
export const NODE_TTL_MS = 2 * 3600_000;
export const NODE_TTL_MAX_MS = 72 * 3600_000;

/** The TTL a registration gets for what the host asked (seconds, or nothing). */
export function nodeTtlMs(requestedSeconds: number | undefined): number {
  const asked = requestedSeconds === undefined ? 0 : requestedSeconds * 1000;
  return Math.min(NODE_TTL_MAX_MS, Math.max(NODE_TTL_MS, asked));
}

export async function nodeHeartbeat(
  svc: AuthService,
  caller: TlsIdentity,
  hb: NodeHeartbeat,
): Promise<{ ok: true }> {
  const bot = await requireBot(svc, caller);
  assertInternalIdentity(caller);
  if (!(await canCreateHostCerts(svc, bot)))
    throw accessDenied(
      `bot "${bot.metadata.name}" may not register nodes: it needs a role that may create host_cert`,
    );
  if (typeof hb?.name !== "string" || !NODE_NAME.test(hb.name)) throw badParameter("node name is invalid");
  if (typeof hb.addr !== "string" || !/^.+:\d{1,5}$/.test(hb.addr))
    throw badParameter("node addr must be host:port");
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(hb.labels ?? {})) labels[k] = String(v);
  const expires = new Date(Date.now() + nodeTtlMs(hb.ttl_seconds));
  const node: NodeResource = {
    kind: "node",
    version: "v2",
    metadata: { name: hb.name, labels, expires: expires.toISOString() },
    spec: { addr: hb.addr, bot_name: bot.metadata.name, bot_instance_id: caller.botInstanceId! },
    status: { last_heartbeat: new Date().toISOString() },
  };
  await svc.nodes.put(hb.name, node, expires);
  return { ok: true };
}

/** Resolve "<node>" or "<node>.<cluster>" for a caller whose roles allow that node's labels. */
export async function resolveNode(
  svc: AuthService,
  caller: TlsIdentity,
  host: string,
): Promise<NodeResolveResponse> {
  if (!host) throw badParameter("host is required");
  const suffix = `.${svc.clusterName}`;
  const name = host.endsWith(suffix) ? host.slice(0, -suffix.length) : host;
  const node = (await svc.nodes.get(name))?.value;
  if (!node)
    throw notFound(`node "${name}" is not registered in cluster "${svc.clusterName}" (see tctl nodes ls)`);
  const roles = await rolesNamed(
    svc,
    caller.roles.filter((r) => !r.startsWith("bot-")),
  ).catch(() => []);
  if (!rolesAllowNode(roles, node.metadata.labels))
    throw accessDenied(`your roles (${caller.roles.join(", ")}) do not allow access to node "${name}"`);
  return { name, addr: node.spec.addr };
}
