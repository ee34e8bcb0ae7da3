// Getting a valid internal identity: reuse and refresh the stored one while it is valid;
// otherwise join. Renewable (token-joined) identities renew with the generation counter;
// the others re-join over an authenticated connection, which keeps their bot instance. A
// changed token re-onboards (the reference's tokenhash rule); an expired identity is
// discarded and the bot joins again (for bound keypair: a recovery). A token file deleted
// after the join it served is not a changed token (storage remembers the file it came from),
// and for the methods whose refresh re-joins by name, storage keeps that name too.

import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { JoinMethodClient } from "../../join/client.ts";
import { runJoin } from "../../join/client.ts";
import { implementedJoinMethod } from "../../join/registry.ts";
import type { ApiClient } from "../../protocol/client.ts";
import type { JoinResult, RenewRequest } from "../../protocol/messages.ts";
import { paths } from "../../protocol/messages.ts";
import { UserError } from "../../util/errors.ts";
import { faultInjection } from "../../util/fault.ts";
import { logger } from "../../util/log.ts";
import { type BotConfig, joinSettings } from "../config/index.ts";
import { joinUriParameter } from "../config/join-settings.ts";
import { onboardingSettingsOf } from "../config/method-settings.ts";
import { clusterClient, firstContact, isProxyAddress, serverAddress } from "../connect.ts";
import type { Store } from "../storage/store.ts";
import {
  type BotIdentity,
  type FreshKey,
  freshKey,
  identityFrom,
  isExpired,
  keyFromPem,
  loadIdentity,
  type StoredIdentity,
  saveIdentity,
  type TokenMarks,
  tokenFileHash,
  tokenHash,
} from "./bot-identity.ts";

const log = logger("TBOT:IDENTITY");

/** Where the token came from: a value, or the trimmed content of the file it names (§1.1). */
export interface TokenSource {
  token?: string;
  /** Absolute path of the file the token was read from. */
  file?: string;
  /** Absolute path a value that looks like a path names, when no such file exists (now). */
  missingFile?: string;
}

export function resolveTokenSource(value: string | undefined): TokenSource {
  if (!value) return {};
  if (!value.includes("/")) return { token: value };
  // tbot never changes directory: a relative path is relative to where it was started.
  const abs = resolve(value);
  if (existsSync(value)) return { token: readSecretFile(value, "token file"), file: abs };
  return { token: value, missingFile: abs };
}

/**
 * What to do with a stored identity given the configured token (join_method token):
 * "reuse" it, "rejoin" because the token changed, or "gone" — the token was read from a file
 * that no longer exists and the same path is still configured, which is how the reference
 * means a one-time token file to be used ("can be deleted after the first successful join"):
 * not a new token, so the identity is kept.
 */
export function tokenDecision(stored: TokenMarks, src: TokenSource): "reuse" | "rejoin" | "gone" {
  if (src.token === undefined) return "reuse";
  if (src.missingFile && stored.tokenFile === tokenFileHash(src.missingFile)) return "gone";
  return stored.tokenHash === tokenHash(src.token) ? "reuse" : "rejoin";
}

function readSecretFile(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch (e) {
    throw new UserError(`${what} ${path} cannot be read: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
}

/** The client half of the join method, found in the registry and built from the config. */
async function joinMethodClient(
  cfg: BotConfig,
  storage: Store,
  method: string,
  clusterName: string,
): Promise<JoinMethodClient> {
  const descriptor = implementedJoinMethod(method);
  if (!descriptor) throw new UserError(`join method "${method}" is not supported by this tbot yet`);
  const uriParameter = joinUriParameter(cfg);
  return descriptor.client({
    settings: onboardingSettingsOf(cfg.onboarding, method),
    ...(uriParameter !== undefined ? { uriParameter } : {}),
    storage,
    debug: cfg.debug,
    // ID-token methods ask their platform for a token with this audience.
    ...(clusterName ? { clusterName } : {}),
  });
}

/**
 * The key a single-use token join is made with, saved before the request leaves: if the
 * response is lost (a crash, a reset connection), the next attempt with the same token sends
 * the same key, and the server hands the same bot instance back instead of "already used".
 */
async function joinKeyFor(storage: Store, hash: string): Promise<FreshKey> {
  const [pem, forHash] = await Promise.all([storage.read("join_key"), storage.read("join_key.tokenhash")]);
  if (pem && forHash?.trim() === hash) {
    const key = await keyFromPem(pem).catch(() => null);
    if (key) return key;
  }
  const key = await freshKey();
  await storage.writeSet(JOIN_KEY_SET, { join_key: key.keyPem, "join_key.tokenhash": hash });
  return key;
}

const JOIN_KEY_SET = "joinkey";

/**
 * The key a renewal is made with, saved before the request leaves and bound to the
 * certificate it renews: if the answer is lost (a crash, a reset connection), the next attempt
 * sends the same key, and the server serves the lost answer again to that key only
 * (RenewRequest.key_kept) — so a copy of the identity cannot pass for the bot's own retry.
 */
async function renewKeyFor(storage: Store, renewing: BotIdentity): Promise<FreshKey> {
  const [pem, forSerial] = await Promise.all([storage.read("renew_key"), storage.read("renew_key.serial")]);
  if (pem && forSerial?.trim() === renewing.tls.serial) {
    const key = await keyFromPem(pem).catch(() => null);
    if (key) return key;
  }
  const key = await freshKey();
  await storage.writeSet(RENEW_KEY_SET, { renew_key: key.keyPem, "renew_key.serial": renewing.tls.serial });
  return key;
}

const RENEW_KEY_SET = "renewkey";

export class IdentityManager {
  current: BotIdentity | null = null;
  constructor(
    private readonly cfg: BotConfig,
    private readonly storage: Store,
  ) {}

  private get method(): string {
    return joinSettings(this.cfg).joinMethod || "token";
  }

  private client(id: BotIdentity) {
    return clusterClient(
      serverAddress(this.cfg),
      id.tlsCaPems,
      id.tlsCertPem,
      id.keyPem,
      isProxyAddress(this.cfg),
    );
  }

  /** An mTLS client for the current identity. */
  api() {
    if (!this.current) throw new Error("no identity yet");
    return this.client(this.current);
  }

  /** Obtain or refresh the identity; called at start and on every renewal. */
  async refresh(): Promise<BotIdentity> {
    const isToken = this.method === "token";
    const src = resolveTokenSource(joinSettings(this.cfg).token);
    let token = src.token;
    // Only the token method's name is a secret whose change means "re-onboard". The other
    // methods' names are not secret; one read from a file is kept for refreshes (below).
    const marks: TokenMarks = {
      tokenHash: token && isToken ? tokenHash(token) : "",
      ...(src.file ? { tokenFile: tokenFileHash(src.file) } : {}),
      ...(src.file && !isToken && token ? { tokenName: token } : {}),
    };
    // A running bot keeps its identity: the token only matters when it starts.
    const stored: StoredIdentity | null = this.current
      ? { identity: this.current, ...marks }
      : await loadIdentity(this.storage);
    if (
      !isToken &&
      src.missingFile &&
      stored?.tokenName &&
      stored.tokenFile === tokenFileHash(src.missingFile)
    ) {
      // The file this identity's token name came from is gone: refresh with that name, not the path.
      token = stored.tokenName;
      if (!this.current)
        log.info("The token file is gone; using the token name this identity joined with", {
          path: src.missingFile,
        });
    }
    const decision = stored && isToken ? tokenDecision(stored, src) : "reuse";
    let reuse = stored !== null;
    if (decision === "gone") {
      // Not a token at all: the path of a file that is gone. Never send it as one.
      token = undefined;
      if (!this.current)
        log.info("The token file is gone; keeping the identity it joined with", { path: src.missingFile });
    }
    if (stored && isExpired(stored.identity)) {
      log.warn("Stored identity has expired; discarding it and joining again", {
        expired: stored.identity.tls.notAfter.toISOString(),
      });
      if (decision === "gone")
        throw new UserError(
          `the stored identity expired at ${stored.identity.tls.notAfter.toISOString()} and the token file ` +
            `${src.missingFile} it joined with is gone (a token is single use): give the bot a new token ` +
            `("tctl bots instances add <bot>") with --token or onboarding.token`,
        );
      reuse = false;
    } else if (stored && decision === "rejoin") {
      log.info("The configured token differs from the one this identity was joined with; joining again");
      reuse = false;
    }
    const id = reuse ? await this.renew(stored!.identity, token, marks) : await this.join(token, marks);
    this.current = id;
    return id;
  }

  private async renew(old: BotIdentity, token: string | undefined, marks: TokenMarks): Promise<BotIdentity> {
    const key = await renewKeyFor(this.storage, old);
    let id: BotIdentity;
    if (old.tls.renewable) {
      const req: RenewRequest = {
        public_keys: key.publicKeys,
        expires: this.expiry().toISOString(),
        key_kept: true,
      };
      id = identityFrom(key, (await this.client(old).post<JoinResult>(paths.renew, req)).certificates);
      faultInjection("after-renew-response");
    } else {
      if (!token)
        throw new UserError("onboarding.token (the join token's name) is required to refresh this identity");
      // Re-join over mTLS with the current identity: the server keeps our bot instance.
      id = identityFrom(
        key,
        (await this.runJoin(this.client(old), token, key, old.tls.clusterName)).certificates,
      );
    }
    // What the identity was joined with stays recorded: a renewal does not change it. A
    // by-name refresh records the name it just used when it came from a file that exists.
    const stored = await loadIdentity(this.storage);
    const tokenFile = (marks.tokenName ? marks.tokenFile : undefined) ?? stored?.tokenFile;
    const tokenName = marks.tokenName ?? stored?.tokenName;
    await saveIdentity(
      this.storage,
      id,
      stored
        ? {
            tokenHash: stored.tokenHash,
            ...(tokenFile ? { tokenFile } : {}),
            ...(tokenName ? { tokenName } : {}),
          }
        : marks,
    );
    // Saved: the kept key is the identity's own now.
    await this.storage.removeSet(RENEW_KEY_SET, ["renew_key", "renew_key.serial"]);
    log.info("Renewed bot identity", {
      identity: id.tls.username,
      instance: id.tls.botInstanceId,
      generation: id.tls.generation,
      valid_until: id.tls.notAfter.toISOString(),
    });
    return id;
  }

  private expiry(): Date {
    return new Date(Date.now() + this.cfg.credentialTtlMs);
  }

  private async runJoin(
    api: ApiClient,
    token: string,
    key: FreshKey,
    clusterName: string,
  ): Promise<JoinResult> {
    const method = await joinMethodClient(this.cfg, this.storage, this.method, clusterName);
    return runJoin(api, { tokenName: token, publicKeys: key.publicKeys, expires: this.expiry() }, method);
  }

  private async join(token: string | undefined, marks: TokenMarks): Promise<BotIdentity> {
    if (!token)
      throw new UserError(
        "no usable identity in storage and no join token configured: set onboarding.token (--token) to join",
      );
    // First contact first: a server that fails its pin gets nothing written to storage.
    const contact = await firstContact(this.cfg);
    const key = this.method === "token" ? await joinKeyFor(this.storage, marks.tokenHash) : await freshKey();
    const res = await this.runJoin(contact.api, token, key, contact.ping.cluster_name);
    const id = identityFrom(key, res.certificates);
    await saveIdentity(this.storage, id, marks);
    // Joined and saved: the kept key is the identity's own now, and the token is spent.
    if (this.method === "token")
      await this.storage.removeSet(JOIN_KEY_SET, ["join_key", "join_key.tokenhash"]);
    log.info("Fetched new bot identity", {
      identity: id.tls.username,
      instance: res.bot_instance_id,
      join_method: this.method,
      valid_until: id.tls.notAfter.toISOString(),
    });
    return id;
  }
}
