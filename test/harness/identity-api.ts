// Speaking to a real tauth as a bot would, one request at a time: a token join with a chosen
// key, a renewal with a stored identity whose answer the test may "lose", calls with another
// bot's certificate. The code that speaks is the product's own (src/protocol, src/join).

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type FreshKey, freshKey } from "../../src/agent/identity/bot-identity.ts";
import { parseTlsIdentity } from "../../src/crypto/tls-identity.ts";
import { runJoin } from "../../src/join/client.ts";
import { tokenJoinClient } from "../../src/join/token/client.ts";
import { ApiClient } from "../../src/protocol/client.ts";
import type { JoinResult, RenewRequest } from "../../src/protocol/messages.ts";
import { paths } from "../../src/protocol/messages.ts";
import { UserError } from "../../src/util/errors.ts";
import type { TauthHandle } from "./tauth.ts";

/** A bot's internal identity: its certificate and key (PEM). */
export interface RawIdentity {
  certPem: string;
  keyPem: string;
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; code: string; message: string };

async function outcome<T>(p: Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await p };
  } catch (e) {
    if (e instanceof UserError) return { ok: false, code: e.code, message: e.message };
    throw e;
  }
}

/** A client that trusts exactly the cluster's host CA, as tbot does after checking its pin. */
export function clusterApi(h: TauthHandle, id?: RawIdentity): ApiClient {
  const r = h.tctl(["auth", "export", "--type=tls-host"]);
  if (r.code !== 0) throw new Error(`tctl auth export failed: ${r.stderr}`);
  const api = new ApiClient(h.addr, { ca: [r.stdout], keepAlive: false });
  return id ? api.withIdentity(id.certPem, id.keyPem) : api;
}

/** The identity tbot keeps in a storage directory. */
export function storedIdentity(dataDir: string): RawIdentity {
  return {
    certPem: readFileSync(join(dataDir, "tlscert"), "utf8"),
    keyPem: readFileSync(join(dataDir, "key"), "utf8"),
  };
}

export const generationOf = (id: RawIdentity) => parseTlsIdentity(id.certPem).generation;
export const instanceOf = (id: RawIdentity) => parseTlsIdentity(id.certPem).botInstanceId ?? "";

/** A renewal with `id`; `expires` and `keys` may be spoiled on purpose. */
export async function renew(
  h: TauthHandle,
  id: RawIdentity,
  o: { expires?: string; key?: FreshKey; publicKeys?: RenewRequest["public_keys"]; keyKept?: boolean } = {},
): Promise<Outcome<RawIdentity>> {
  const key = o.key ?? (await freshKey());
  const req: RenewRequest = {
    public_keys: o.publicKeys ?? key.publicKeys,
    expires: o.expires ?? new Date(Date.now() + 3600_000).toISOString(),
    ...(o.keyKept ? { key_kept: true } : {}),
  };
  return outcome(
    clusterApi(h, id)
      .post<JoinResult>(paths.renew, req)
      .then((r) => ({ certPem: r.certificates.tls_cert, keyPem: key.keyPem })),
  );
}

/** A token join with `key` (a fresh one unless given). */
export async function tokenJoin(
  h: TauthHandle,
  token: string,
  key?: FreshKey,
): Promise<Outcome<RawIdentity>> {
  const k = key ?? (await freshKey());
  return outcome(
    runJoin(
      clusterApi(h),
      { tokenName: token, publicKeys: k.publicKeys, expires: new Date(Date.now() + 3600_000) },
      tokenJoinClient,
    ).then((r) => ({ certPem: r.certificates.tls_cert, keyPem: k.keyPem })),
  );
}

/** Impersonated output certificates requested with `id` (marks `id` as in use). */
export async function outputCerts(h: TauthHandle, id: RawIdentity): Promise<Outcome<unknown>> {
  const key = await freshKey();
  return outcome(
    clusterApi(h, id).post(paths.userCerts, {
      public_keys: key.publicKeys,
      expires: new Date(Date.now() + 600_000).toISOString(),
    }),
  );
}

/**
 * `tctl bots add NAME --roles=ROLES` and a token join of that bot through the product's own
 * client: the bot's identity, for requests the test makes as the bot.
 */
export async function joinedBot(h: TauthHandle, name: string, roles: string): Promise<RawIdentity> {
  const r = h.tctl(["bots", "add", name, `--roles=${roles}`, "--format=json"]);
  if (r.code !== 0) throw new Error(`tctl bots add ${name} failed (${r.code}): ${r.stderr}${r.stdout}`);
  const joined = await tokenJoin(h, JSON.parse(r.stdout).token_id as string);
  if (!joined.ok) throw new Error(`join failed: ${joined.message}`);
  return joined.value;
}

/** The refusal a request ends in (its code and message); throws if it succeeds or fails otherwise. */
export async function refusal(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  const o = await outcome(p);
  if (o.ok) throw new Error("expected a refusal");
  return { code: o.code, message: o.message };
}
