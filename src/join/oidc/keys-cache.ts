// The issuer key cache a join method uses: one per auth service (so per process), held through
// JoinContext.methodCache, shared by every join so the cache and its rate limits mean something.
// Its fetches go through JoinContext.fetch (the service's outbound fetch, trusting
// SSL_CERT_FILE) and its clock is the cluster clock. A context without methodCache (a unit
// test's fake) gets a cache of its own.

import type { JoinContext } from "../types.ts";
import { IssuerKeyCache } from "./jwks-source.ts";

const KEY = "oidc.issuer-key-cache";

export function issuerKeyCache(ctx: JoinContext): IssuerKeyCache {
  // ctx.fetch and ctx.now delegate to the service, so capturing the first request's is safe.
  const make = () =>
    new IssuerKeyCache({ fetcher: (url, init) => ctx.fetch(url, init), now: () => ctx.now() });
  return ctx.methodCache ? ctx.methodCache(KEY, make) : make();
}
