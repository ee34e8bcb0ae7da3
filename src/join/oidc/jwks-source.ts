// Where the verification keys for an ID token come from: either pinned in the token resource
// (static_jwks: nothing is fetched) or the issuer's own key set, found through its OpenID
// discovery document. Fetched sets are cached per issuer and shared by every join; a token
// naming an unknown `kid` may trigger one early refresh, at most once per interval per issuer,
// so a stranger sending random kids cannot make the auth service hammer the issuer.

import type { JWK } from "jose";
import { accessDenied, connectionProblem, UserError } from "../../util/errors.ts";
import { defaultFetcher, type Fetcher, FetchFailure, fetchJson } from "./fetch-json.ts";
import { parseJwks } from "./jwks.ts";
import { shown } from "./shown.ts";

export interface KeySource {
  /** Names the source in messages: the issuer URL, or "static_jwks". */
  readonly label: string;
  /** The current keys: cached, fetched on first use and again after the cache's TTL. */
  keys(): Promise<readonly JWK[]>;
  /**
   * Fetch the set again because a token named a kid that is not in it. Resolves to the new
   * keys, or to null when no refresh was made: a pinned set, or one refreshed too recently.
   */
  refreshForUnknownKid(): Promise<readonly JWK[] | null>;
}

/** Keys pinned in the token resource (kubernetes/github/gitlab `static_jwks`). */
export function staticJwksSource(jwks: string | object, label = "static_jwks"): KeySource {
  const keys = parseJwks(jwks, label);
  return {
    label,
    keys: async () => keys,
    refreshForUnknownKid: async () => null,
  };
}

export interface IssuerKeyCacheOptions {
  /** Makes the HTTPS requests; default: global fetch with the system roots (SSL_CERT_FILE honoured). */
  fetcher?: Fetcher;
  /** Milliseconds, for the cache's own timing (TTL, rate limit); default Date.now. */
  now?: () => number;
  /** How long a fetched key set is used before it is fetched again. Default 1 h. */
  ttlMs?: number;
  /** Least time between two refreshes caused by unknown kids, per issuer. Default 30 s. */
  unknownKidRefreshIntervalMs?: number;
  /** After a failed fetch, how long later requests get the same failure without a new fetch. Default 5 s. */
  failureBackoffMs?: number;
  /** A set past its TTL is still used while the issuer cannot be reached, up to this age. Default 24 h. */
  maxStaleMs?: number;
  /** Deadline for one document (connect, headers, body). Default 10 s. */
  timeoutMs?: number;
  /** Largest discovery document or key set accepted, in bytes. Default 64 KiB. */
  maxBytes?: number;
  /** Issuers remembered at once; the oldest is dropped past this. Default 256. */
  maxIssuers?: number;
}

interface IssuerState {
  keys?: readonly JWK[];
  fetchedAt?: number;
  lastUnknownKidRefresh?: number;
  failure?: { error: UserError; at: number };
  inflight?: Promise<readonly JWK[]>;
}

const DEFAULTS = {
  ttlMs: 60 * 60_000,
  unknownKidRefreshIntervalMs: 30_000,
  failureBackoffMs: 5_000,
  maxStaleMs: 24 * 60 * 60_000,
  timeoutMs: 10_000,
  maxBytes: 64 * 1024,
  maxIssuers: 256,
};

/** One per auth service: the key sets of every OIDC issuer its tokens name. */
export class IssuerKeyCache {
  private readonly opts: typeof DEFAULTS;
  private readonly now: () => number;
  private fetcherValue: Fetcher | undefined;
  private readonly states = new Map<string, IssuerState>();

  constructor(options: IssuerKeyCacheOptions = {}) {
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
    this.opts = { ...DEFAULTS, ...given } as typeof DEFAULTS;
    this.now = options.now ?? Date.now;
    this.fetcherValue = options.fetcher;
  }

  // Created on first use: reading SSL_CERT_FILE belongs to the first fetch, not to startup
  // of a server that may never see an OIDC token.
  private get fetcher(): Fetcher {
    this.fetcherValue ??= defaultFetcher();
    return this.fetcherValue;
  }

  /** The key source of an issuer (an https:// URL, compared exactly with the discovery document). */
  forIssuer(issuer: string): KeySource {
    return {
      label: issuer,
      keys: () => this.keys(issuer),
      refreshForUnknownKid: () => this.refreshForUnknownKid(issuer),
    };
  }

  /** Forget every cached set (configuration reload, tests). */
  clear(): void {
    this.states.clear();
  }

  private state(issuer: string): IssuerState {
    let s = this.states.get(issuer);
    if (!s) {
      if (this.states.size >= this.opts.maxIssuers) {
        const oldest = this.states.keys().next().value;
        if (oldest !== undefined) this.states.delete(oldest);
      }
      s = {};
      this.states.set(issuer, s);
    }
    return s;
  }

  private async keys(issuer: string): Promise<readonly JWK[]> {
    const s = this.state(issuer);
    const now = this.now();
    if (s.keys && s.fetchedAt !== undefined && now - s.fetchedAt < this.opts.ttlMs) return s.keys;
    try {
      return await this.load(issuer, s);
    } catch (e) {
      // An issuer that is briefly down should not stop joins the cached keys can still verify.
      if (s.keys && s.fetchedAt !== undefined && now - s.fetchedAt < this.opts.maxStaleMs) return s.keys;
      throw e;
    }
  }

  private async refreshForUnknownKid(issuer: string): Promise<readonly JWK[] | null> {
    const s = this.state(issuer);
    const now = this.now();
    const interval = this.opts.unknownKidRefreshIntervalMs;
    // A set fetched within the interval is as fresh as a refresh would make it.
    if (s.fetchedAt !== undefined && now - s.fetchedAt < interval) return null;
    if (s.lastUnknownKidRefresh !== undefined && now - s.lastUnknownKidRefresh < interval) return null;
    s.lastUnknownKidRefresh = now;
    return this.load(issuer, s);
  }

  /** Discovery then key set, one flight per issuer at a time, failures remembered briefly. */
  private load(issuer: string, s: IssuerState): Promise<readonly JWK[]> {
    if (s.inflight) return s.inflight;
    const now = this.now();
    if (s.failure && now - s.failure.at < this.opts.failureBackoffMs) return Promise.reject(s.failure.error);
    const flight = this.fetchKeys(issuer).then(
      (keys) => {
        s.keys = keys;
        s.fetchedAt = this.now();
        s.failure = undefined;
        return keys;
      },
      (e: unknown) => {
        const error = e instanceof UserError ? e : connectionProblem(`cannot reach issuer ${issuer}: ${e}`);
        s.failure = { error, at: this.now() };
        throw error;
      },
    );
    s.inflight = flight.finally(() => {
      s.inflight = undefined;
    });
    return s.inflight;
  }

  private async fetchKeys(issuer: string): Promise<readonly JWK[]> {
    const limits = { timeoutMs: this.opts.timeoutMs, maxBytes: this.opts.maxBytes };
    const discoveryUrl = `${issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`;
    let doc: unknown;
    let jwks: unknown;
    let jwksUri: string;
    try {
      doc = await fetchJson(discoveryUrl, this.fetcher, limits);
      const d = (doc ?? {}) as { issuer?: unknown; jwks_uri?: unknown };
      // OpenID Connect Discovery §4.3: the document's issuer must be the one asked for,
      // exactly; otherwise one issuer could vouch for another's tokens.
      if (d.issuer !== issuer)
        throw accessDenied(
          `issuer ${issuer} cannot be used: its discovery document names issuer ${shown(d.issuer)}, which must be the same exactly`,
        );
      if (typeof d.jwks_uri !== "string" || !d.jwks_uri.startsWith("https://"))
        throw connectionProblem(
          `cannot reach issuer ${issuer}: its discovery document has no https:// jwks_uri (got ${shown(d.jwks_uri)})`,
        );
      jwksUri = d.jwks_uri;
      jwks = await fetchJson(jwksUri, this.fetcher, limits);
    } catch (e) {
      if (e instanceof FetchFailure) throw connectionProblem(`cannot reach issuer ${issuer}: ${e.message}`);
      throw e;
    }
    try {
      return parseJwks(jwks, jwksUri);
    } catch (e) {
      throw connectionProblem(`cannot reach issuer ${issuer}: ${(e as Error).message}`);
    }
  }
}
