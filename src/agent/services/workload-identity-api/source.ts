// The Workload API's identity source backed by tauth: for a connecting workload's attested
// attributes, X.509 SVIDs from POST /v1/certs/workload-identity/x509 (the service's selector,
// the workload's unix attributes, a fresh key), renewed before they expire and after every
// renewal of the bot's identity; JWT SVIDs per audience set from /jwt, cached for half their
// life; the trust bundle (SPIFFE CA + JWKS) from /v1/authorities. Listeners (open streams) are
// told after every renewal, once the new set is cached.
// Answers are cached by what tauth says the selected identities read of the workload, and
// shared among the processes that agree on it (shared-answers.ts).

import { createPrivateKey } from "node:crypto";
import { existsSync } from "node:fs";
import type {
  WorkloadAttributes as ApiAttributes,
  AuthoritiesResponse,
  WorkloadJwtResponse,
  WorkloadX509Response,
} from "../../../protocol/messages.ts";
import { paths } from "../../../protocol/messages.ts";
import { UserError } from "../../../util/errors.ts";
import { logger } from "../../../util/log.ts";
import { freshKey } from "../../identity/bot-identity.ts";
import {
  type JwtSvid,
  PermissionDeniedError,
  type TrustBundles,
  UnavailableError,
  type WorkloadAttributes,
  type WorkloadIdentitySource,
  type X509Svid,
} from "../../workload-api/types.ts";
import type { ServiceContext } from "../service.ts";
import type { WorkloadSelector } from "../workload-identity-x509/selector.ts";
import { cacheKey, type Served, serve, tooOldToShare } from "./shared-answers.ts";

const log = logger("TBOT");
/** A refusal is remembered this long, so a denied workload's retries do not each reach tauth. */
const DENIAL_CACHE_MS = 5_000;
/** An SVID is renewed when this share of its lifetime has passed (or at the bot's renewal). */
const RENEW_AT = 0.6;

const BINARY_HASH = "workload.unix.binary_hash";
const pemBodies = (pem: string): Uint8Array[] =>
  [...pem.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)].map(
    (m) => new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ""), "base64")),
  );

interface X509Entry extends Served {
  attrs: ApiAttributes;
  /** What tauth said this entry's answer read of the workload (its key was made with it). */
  read?: string[];
  svids?: X509Svid[];
  expiresAt: number;
  denied?: { reason: string; until: number };
  pending?: Promise<X509Svid[]>;
}

interface JwtEntry extends Served {
  svids: JwtSvid[];
  renewAt: number;
  /** Filed by what tauth said it read (cacheKey): it may be handed to other processes. */
  shared: boolean;
}

export class TauthWorkloadSource implements WorkloadIdentitySource {
  private ctx?: ServiceContext;
  private bundle?: TrustBundles;
  private bundleText = "";
  private readonly x509 = new Map<string, X509Entry>();
  private readonly jwt = new Map<string, JwtEntry>();
  private readonly listeners = new Set<() => void>();
  /** What tauth last said the selected identities read of a workload (X.509 and JWT answers). */
  private x509Read?: string[];
  private jwtRead?: string[];
  /** When the last reissue pass began. */
  private lastPass = 0;
  private timer?: ReturnType<typeof setTimeout>;
  private closed = false;

  constructor(
    private readonly serviceName: string,
    private readonly selector: WorkloadSelector,
    private readonly ttlMs: () => number,
  ) {}

  /** After each renewal of the bot's identity: new bundle, every cached SVID reissued, listeners told. */
  async refresh(ctx: ServiceContext): Promise<void> {
    this.ctx = ctx;
    const first = this.bundle === undefined;
    await this.refreshBundle();
    if (first) return;
    this.jwt.clear();
    await this.reissue(() => true);
    this.notify();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.listeners.clear();
  }

  private async refreshBundle(): Promise<void> {
    const cas = await this.api().get<AuthoritiesResponse>(paths.authorities);
    const spiffe = cas.spiffe;
    if (!spiffe) throw new Error("the auth server has no SPIFFE CA (an older tauth?)");
    const text = JSON.stringify([spiffe.trust_domain, spiffe.tls, spiffe.jwks]);
    if (text === this.bundleText) return;
    this.bundleText = text;
    this.bundle = {
      x509: new Map([[spiffe.trust_domain, spiffe.tls.flatMap(pemBodies)]]),
      jwt: new Map([[spiffe.trust_domain, { keys: spiffe.jwks.keys as object[] }]]),
    };
  }

  private api() {
    if (!this.ctx) throw new UnavailableError("the agent has no identity yet; retry shortly");
    return this.ctx.api;
  }

  private notify(): void {
    for (const l of this.listeners) {
      try {
        l();
      } catch {}
    }
  }

  /** The unix attributes tauth templates (`workload.unix.*`); binary_hash only when asked for. */
  private async apiAttributes(attrs: WorkloadAttributes, withHash: boolean): Promise<ApiAttributes> {
    const u = attrs.unix;
    const unix: NonNullable<ApiAttributes["unix"]> = { uid: u.uid, gid: u.gid, pid: u.pid };
    const path = await u.binaryPath();
    if (path !== undefined) unix.binary_path = path;
    if (withHash) {
      const h = await u.binaryHash();
      if (h !== undefined) unix.binary_hash = h;
    }
    return { unix };
  }

  private ready(): void {
    if (this.closed) throw new UnavailableError("the Workload API is shutting down");
    if (!this.bundle) throw new UnavailableError("the agent has no trust bundle yet; retry shortly");
  }

  async identities(attrs: WorkloadAttributes): Promise<string[]> {
    return (await this.x509Svids(attrs)).map((s) => s.spiffeId);
  }

  async x509Svids(attrs: WorkloadAttributes): Promise<X509Svid[]> {
    this.ready();
    const read = this.x509Read;
    let a = await this.apiAttributes(attrs, read?.includes(BINARY_HASH) ?? false);
    let key = cacheKey(a, read);
    let e = this.x509.get(key);
    // A rule or template on binary_hash: ask again with it (hashing is costly, so only then).
    if (e?.denied?.reason.includes(BINARY_HASH) && a.unix?.binary_hash === undefined) {
      a = await this.apiAttributes(attrs, true);
      key = cacheKey(a, read);
      e = this.x509.get(key);
    }
    const now = Date.now();
    if (e?.denied && e.denied.until > now) throw new PermissionDeniedError(e.denied.reason);
    const pid = attrs.unix.pid;
    if (e?.svids && now < e.expiresAt - 5_000) {
      if (!tooOldToShare(e, !!e.read, pid, now)) {
        serve(e, pid, now);
        return e.svids;
      }
      // Shared, and older than a rule change may take to reach a new workload: this one gets
      // an answer of its own, under today's rules, which then serves the others.
      e = undefined;
    }
    if (e?.pending) {
      const svids = await e.pending;
      if (e.denied) throw new PermissionDeniedError(e.denied.reason);
      // Asked for another workload that agreed with this one on what was known to matter; if
      // the answer read more of the workload (a rule or template changed), ask for our own.
      if (cacheKey(a, e.read) !== cacheKey(e.attrs, e.read)) return this.x509Svids(attrs);
      serve(e, pid, Date.now());
      return svids;
    }
    const entry: X509Entry = e ?? { attrs: a, issuedAt: 0, expiresAt: 0, usedAt: now };
    entry.usedAt = now;
    this.x509.set(key, entry);
    const svids = await this.issue(entry);
    if (entry.svids) {
      this.rekey(key, entry);
      serve(entry, pid, Date.now());
    }
    if (svids.length === 0 && entry.denied?.reason.includes(BINARY_HASH) && a.unix?.binary_hash === undefined)
      return this.x509Svids(attrs);
    if (entry.denied) throw new PermissionDeniedError(entry.denied.reason);
    return svids;
  }

  /**
   * Files an answered entry under the key its own answer's `read` gives (it was looked up with
   * the last one known, or every attribute). Another entry already there stays: it answers the
   * same workloads alike.
   */
  private rekey(key: string, entry: X509Entry): void {
    const want = cacheKey(entry.attrs, entry.read);
    if (want === key) return;
    if (this.x509.get(key) === entry) this.x509.delete(key);
    if (!this.x509.get(want)?.svids) this.x509.set(want, entry);
  }

  /** Issues the entry's SVIDs (one request), or records the refusal. Never throws a refusal. */
  private issue(entry: X509Entry): Promise<X509Svid[]> {
    entry.pending = (async () => {
      try {
        const key = await freshKey();
        const res = await this.api().post<WorkloadX509Response>(paths.workloadX509, {
          selector: this.selector,
          public_key: key.publicKeys.tls_public_key,
          ttl_seconds: Math.max(1, Math.round(this.ttlMs() / 1000)),
          workload: entry.attrs,
        });
        const der = new Uint8Array(createPrivateKey(key.keyPem).export({ type: "pkcs8", format: "der" }));
        const bundle = res.bundle.flatMap(pemBodies);
        const svids: X509Svid[] = res.svids.map((s) => {
          const out: X509Svid = { spiffeId: s.spiffe_id, chain: pemBodies(s.cert), key: der };
          if (s.hint) out.hint = s.hint;
          return out;
        });
        if (bundle.length && this.bundle) {
          const td = res.trust_domain;
          const cur = this.bundle.x509.get(td);
          if (!cur || Buffer.concat(cur).compare(Buffer.concat(bundle)) !== 0)
            this.bundle.x509.set(td, bundle);
        }
        entry.svids = svids;
        entry.denied = undefined;
        // An answer without it (an older tauth) is one per workload: look up by every attribute.
        entry.read = res.workload_attributes_read ? [...res.workload_attributes_read].sort() : undefined;
        this.x509Read = entry.read;
        entry.issuedAt = Date.now();
        entry.expiresAt = Math.min(...res.svids.map((s) => Date.parse(s.expires)));
        log.debug("Issued X.509 SVIDs for a workload", {
          service: this.serviceName,
          uid: entry.attrs.unix?.uid,
          pid: entry.attrs.unix?.pid,
          spiffe_ids: svids.map((s) => s.spiffeId).join(","),
        });
        this.schedule();
        return svids;
      } catch (e) {
        if (e instanceof UserError && (e.code === "access_denied" || e.code === "not_found")) {
          entry.svids = undefined;
          entry.denied = { reason: e.message, until: Date.now() + DENIAL_CACHE_MS };
          log.info("No workload identity for a workload", {
            service: this.serviceName,
            uid: entry.attrs.unix?.uid,
            pid: entry.attrs.unix?.pid,
            reason: e.message,
          });
          return [];
        }
        throw new UnavailableError(`could not get SVIDs from the auth server: ${(e as Error).message}`);
      } finally {
        entry.pending = undefined;
      }
    })();
    return entry.pending;
  }

  /** Reissues the entries `due` picks; drops those of processes that are gone. */
  private async reissue(due: (e: X509Entry) => boolean): Promise<void> {
    const work: Promise<unknown>[] = [];
    // Open streams ask again after every pass (notify), so an entry no one asked for since the
    // previous pass serves no one.
    const since = this.lastPass;
    this.lastPass = Date.now();
    for (const [k, e] of this.x509) {
      const pid = e.attrs.unix?.pid;
      const perProcess = !e.read || e.read.includes("workload.unix.pid");
      // A process's own entry goes with the process; a shared one, when no one asks for it.
      const gone = perProcess ? pid !== undefined && !existsSync(`/proc/${pid}`) : e.usedAt < since;
      if (gone) {
        this.x509.delete(k);
        continue;
      }
      if (e.denied) {
        this.x509.delete(k);
        continue;
      }
      if (due(e) && !e.pending)
        work.push(
          this.issue(e)
            .then(() => {
              if (e.svids) this.rekey(k, e);
            })
            .catch(() => {}),
        );
    }
    await Promise.all(work);
  }

  /** One timer: at the earliest RENEW_AT point of the cached SVIDs. */
  private schedule(): void {
    if (this.closed) return;
    let at = Number.POSITIVE_INFINITY;
    for (const e of this.x509.values())
      if (e.svids) at = Math.min(at, e.issuedAt + (e.expiresAt - e.issuedAt) * RENEW_AT);
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!Number.isFinite(at)) return;
    const wait = Math.min(2 ** 31 - 1, Math.max(1000, at - Date.now()));
    this.timer = setTimeout(() => {
      const now = Date.now();
      void this.reissue((e) => e.issuedAt + (e.expiresAt - e.issuedAt) * RENEW_AT <= now + 1000).then(() => {
        this.notify();
        this.schedule();
      });
    }, wait);
    this.timer.unref?.();
  }

  async jwtSvids(attrs: WorkloadAttributes, audience: string[], spiffeId?: string): Promise<JwtSvid[]> {
    this.ready();
    // The identities this workload has (and the attribute set tauth accepted for them).
    await this.x509Svids(attrs);
    const withHash =
      (this.jwtRead ?? this.x509Read)?.includes(BINARY_HASH) ||
      [...this.x509.values()].some(
        (e) => e.attrs.unix?.pid === attrs.unix.pid && e.attrs.unix?.binary_hash !== undefined && e.svids,
      );
    const a = await this.apiAttributes(attrs, withHash);
    const audiences = [...audience].sort();
    const key = JSON.stringify([cacheKey(a, this.jwtRead), audiences]);
    const now = Date.now();
    let e = this.jwt.get(key);
    const pid = attrs.unix.pid;
    const stale = (j: JwtEntry) => now >= j.renewAt || tooOldToShare(j, j.shared, pid, now);
    if (!e || stale(e)) {
      let res: WorkloadJwtResponse;
      try {
        res = await this.api().post<WorkloadJwtResponse>(paths.workloadJwt, {
          selector: this.selector,
          audiences: audience,
          workload: a,
        });
      } catch (err) {
        if (err instanceof UserError && (err.code === "access_denied" || err.code === "not_found"))
          throw new PermissionDeniedError(err.message);
        throw new UnavailableError(`could not get JWT SVIDs from the auth server: ${(err as Error).message}`);
      }
      const svids = res.svids.map((s) => {
        const out: JwtSvid = { spiffeId: s.spiffe_id, token: s.token };
        if (s.hint) out.hint = s.hint;
        return out;
      });
      const exp = Math.min(...res.svids.map((s) => Date.parse(s.expires)));
      const read = res.workload_attributes_read ? [...res.workload_attributes_read].sort() : undefined;
      e = { svids, renewAt: now + Math.max(0, (exp - now) / 2), issuedAt: now, shared: !!read, usedAt: now };
      // Drop expired entries now and then: the map is per workload and audience set.
      for (const [k, v] of this.jwt) if (v.renewAt <= now) this.jwt.delete(k);
      // Filed by what this answer read of the workload (see cacheKey).
      this.jwtRead = read;
      // Only there: under the key it was looked up by, it could reach a workload that agrees
      // with this one on less than the answer read.
      this.jwt.set(JSON.stringify([cacheKey(a, read), audiences]), e);
    }
    serve(e, pid, now);
    return spiffeId === undefined ? e.svids : e.svids.filter((s) => s.spiffeId === spiffeId);
  }

  bundles(): TrustBundles {
    this.ready();
    return this.bundle!;
  }

  onRotate(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
