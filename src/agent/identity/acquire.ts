// Getting a valid internal identity: reuse and renew the stored one when it is still valid
// and belongs to the configured token; otherwise join. A changed token re-onboards (the
// reference's tokenhash rule); an expired identity is discarded, never renewed.

import { existsSync, readFileSync } from "node:fs";
import type { JoinMethodClient } from "../../join/client.ts";
import { runJoin } from "../../join/client.ts";
import { tokenJoinClient } from "../../join/token/client.ts";
import type { JoinResult, RenewRequest } from "../../protocol/messages.ts";
import { paths } from "../../protocol/messages.ts";
import { UserError } from "../../util/errors.ts";
import { logger } from "../../util/log.ts";
import type { BotConfig } from "../config/index.ts";
import { clusterClient, firstContact, serverAddress } from "../connect.ts";
import type { Store } from "../storage/store.ts";
import {
  type BotIdentity,
  freshKey,
  identityFrom,
  isExpired,
  loadIdentity,
  saveIdentity,
  tokenHash,
} from "./bot-identity.ts";

const log = logger("TBOT:IDENTITY");

/** The token value: if it names a readable file, that file's trimmed content (reference §1.1). */
export function resolveToken(value: string | undefined): string | undefined {
  if (!value) return undefined;
  if (value.includes("/") && existsSync(value)) {
    try {
      return readFileSync(value, "utf8").trim();
    } catch (e) {
      throw new UserError(`token file ${value} cannot be read: ${(e as NodeJS.ErrnoException).code ?? e}`);
    }
  }
  return value;
}

const clients: Record<string, JoinMethodClient> = { token: tokenJoinClient };

export function joinMethodClient(method: string): JoinMethodClient {
  const c = clients[method];
  if (!c) throw new UserError(`join method "${method}" is not supported by this tbot yet`);
  return c;
}

export function registerJoinClient(c: JoinMethodClient): void {
  clients[c.method] = c;
}

export class IdentityManager {
  current: BotIdentity | null = null;
  constructor(
    private readonly cfg: BotConfig,
    private readonly storage: Store,
  ) {}

  private get method(): string {
    return this.cfg.onboarding.joinMethod || "token";
  }

  private client(id: BotIdentity) {
    return clusterClient(
      serverAddress(this.cfg),
      id.tlsCaPems,
      id.tlsCertPem,
      id.keyPem,
      !!this.cfg.proxyServer,
    );
  }

  /** An mTLS client for the current identity. */
  api() {
    if (!this.current) throw new Error("no identity yet");
    return this.client(this.current);
  }

  /** Obtain or refresh the identity; called at start and on every renewal. */
  async refresh(): Promise<BotIdentity> {
    const token = resolveToken(this.cfg.onboarding.token);
    const hash = token ? tokenHash(token) : "";
    const stored = this.current
      ? { identity: this.current, tokenHash: hash }
      : await loadIdentity(this.storage);
    let reuse = stored !== null;
    if (stored && isExpired(stored.identity)) {
      log.warn("Stored identity has expired; discarding it and joining again", {
        expired: stored.identity.tls.notAfter.toISOString(),
      });
      reuse = false;
    } else if (stored && this.method === "token" && token && stored.tokenHash !== hash) {
      log.info("The configured token differs from the one this identity was joined with; joining again");
      reuse = false;
    }
    const id = reuse ? await this.renew(stored!.identity) : await this.join(token, hash);
    this.current = id;
    return id;
  }

  private async renew(old: BotIdentity): Promise<BotIdentity> {
    if (!old.tls.renewable)
      throw new UserError(`renewing identities of the ${this.method} join method is not supported yet`);
    const key = await freshKey();
    const req: RenewRequest = {
      public_keys: key.publicKeys,
      expires: new Date(Date.now() + this.cfg.credentialTtlMs).toISOString(),
    };
    const res = await this.client(old).post<JoinResult>(paths.renew, req);
    const id = identityFrom(key, res.certificates);
    const stored = await loadIdentity(this.storage);
    await saveIdentity(this.storage, id, stored?.tokenHash ?? "");
    log.info("Renewed bot identity", {
      identity: id.tls.username,
      instance: id.tls.botInstanceId,
      generation: id.tls.generation,
      valid_until: id.tls.notAfter.toISOString(),
    });
    return id;
  }

  private async join(token: string | undefined, hash: string): Promise<BotIdentity> {
    if (!token)
      throw new UserError(
        "no usable identity in storage and no join token configured: set onboarding.token (--token) to join",
      );
    const contact = await firstContact(this.cfg);
    const key = await freshKey();
    const res = await runJoin(
      contact.api,
      {
        tokenName: token,
        publicKeys: key.publicKeys,
        expires: new Date(Date.now() + this.cfg.credentialTtlMs),
      },
      joinMethodClient(this.method),
    );
    const id = identityFrom(key, res.certificates);
    await saveIdentity(this.storage, id, hash);
    log.info("Fetched new bot identity", {
      identity: id.tls.username,
      instance: res.bot_instance_id,
      join_method: this.method,
      valid_until: id.tls.notAfter.toISOString(),
    });
    return id;
  }
}
