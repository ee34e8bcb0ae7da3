// For the github, gitlab and kubernetes unit tests: a token resource read the way `tctl create`
// reads it, a JoinContext that records what the method asks of the auth service (with one
// method cache, as one auth service has), and a fetch that trusts the harness issuers' CAs.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseResources, type TokenResource } from "../../../../src/auth/resources/index.ts";
import type { FinishJoinArgs, HttpFetcher, JoinContext } from "../../../../src/join/types.ts";
import type { JoinRequest, JoinResult } from "../../../../src/protocol/messages.ts";
import type { OidcIssuer } from "../../../harness/oidc-issuer.ts";

export const CLUSTER = "cluster.test";
export const vectors = join(import.meta.dir, "..", "..", "..", "vectors", "join-tokens");

export function vector(file: string): string {
  return readFileSync(join(vectors, file), "utf8");
}

/** Parses one token resource from YAML, as tctl create does (errors carry file:line:col). */
export function tokenFrom(yaml: string, file = "token.yaml"): TokenResource {
  return parseResources(yaml, file)[0] as TokenResource;
}

/** A bot token of `method` with `block` (indented under spec) as YAML. */
export function tokenYaml(method: string, block: string, name = "t1", bot = "b1"): string {
  return `kind: token\nversion: v2\nmetadata:\n  name: ${name}\nspec:\n  roles: [Bot]\n  bot_name: ${bot}\n  join_method: ${method}\n${block}`;
}

/** fetch trusting the given issuers' CAs (the auth service's would trust SSL_CERT_FILE). */
export function trustingFetch(...issuers: OidcIssuer[]): HttpFetcher & { calls: string[] } {
  const ca = issuers.map((i) => i.ca.caPem);
  const calls: string[] = [];
  const f = (url: string, init?: RequestInit) => {
    calls.push(url);
    return fetch(url, { ...init, tls: { ca } } as RequestInit);
  };
  return Object.assign(f, { calls });
}

export interface FakeAuth {
  ctx: JoinContext;
  finished: FinishJoinArgs[];
  audits: { event: string; [k: string]: unknown }[];
}

/** A JoinContext over one token and its bot; `cache` shared between contexts = one auth service. */
export function fakeAuth(
  token: TokenResource,
  o: { fetch: HttpFetcher; now?: () => number; cache?: Map<string, unknown>; caller?: JoinContext["caller"] },
): FakeAuth {
  const finished: FinishJoinArgs[] = [];
  const audits: FakeAuth["audits"] = [];
  const cache = o.cache ?? new Map<string, unknown>();
  const ctx: JoinContext = {
    remoteAddr: "127.0.0.1",
    ...(o.caller ? { caller: o.caller } : {}),
    findToken: async (name) => (name === token.metadata.name ? { token, revision: "1" } : null),
    consumeToken: async () => {
      throw new Error("ID-token methods consume nothing");
    },
    isUnusedInstance: async () => false,
    getBot: async (name) =>
      name === token.spec.bot_name
        ? { kind: "bot", version: "v1", metadata: { name }, spec: { roles: ["access"], traits: [] } }
        : null,
    newInstanceId: () => "instance-new",
    clusterName: CLUSTER,
    now: o.now ?? (() => Date.now()),
    fetch: o.fetch,
    methodCache<T>(key: string, make: () => T): T {
      if (!cache.has(key)) cache.set(key, make());
      return cache.get(key) as T;
    },
    issueContinuation: async () => {
      throw new Error("no challenge expected");
    },
    redeemContinuation: async () => {
      throw new Error("no challenge expected");
    },
    updateToken: async () => undefined,
    lockToken: async () => undefined,
    signJoinState: async () => "",
    verifyJoinState: async () => ({}),
    async finishBotJoin(args) {
      finished.push(args);
      return {
        type: "result",
        bot_name: args.bot.metadata.name,
        bot_instance_id: args.instanceId,
      } as JoinResult;
    },
    audit: (event, fields) => audits.push({ event, ...fields }),
  };
  return { ctx, finished, audits };
}

/** The first message of an ID-token join. */
export function joinRequest(method: string, token: string, idToken: string): JoinRequest {
  return {
    client_init: { join_method: method, token_name: token, system_role: "Bot" },
    bot_params: {
      public_keys: { tls_public_key: "tls", ssh_public_key: "ssh" },
      expires: new Date(Date.now() + 3600_000).toISOString(),
    },
    method_init: { id_token: idToken },
  };
}

export async function jwksText(i: OidcIssuer): Promise<string> {
  return (await fetch(i.jwksUri, { tls: { ca: i.ca.caPem } } as RequestInit)).text();
}
