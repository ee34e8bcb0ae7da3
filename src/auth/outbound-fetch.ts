// Outbound HTTP for join methods (issuers' discovery documents and key sets, AWS STS): the
// standard fetch, trusting the bundle named by SSL_CERT_FILE when it is set, as tbot does for
// a proxy. The file is read on the first request, not at start, so a tauth that never serves
// such a join never depends on it. Join methods get this through JoinContext.fetch, so their
// server halves are unit-tested with a fake.

import type { HttpFetcher } from "../join/types.ts";
import { systemRoots } from "../protocol/client.ts";

export function outboundFetcher(env: Record<string, string | undefined> = process.env): HttpFetcher {
  let roots: { ca: string[] | undefined } | undefined;
  return async (url, init) => {
    roots ??= { ca: systemRoots(env) };
    const ca = roots.ca;
    return ca ? fetch(url, { ...init, tls: { ca } } as RequestInit) : fetch(url, init);
  };
}
