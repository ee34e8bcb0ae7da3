// Fetching an issuer's discovery document and key set: HTTPS only, the system trust roots
// (SSL_CERT_FILE honoured), a deadline over the whole exchange and a cap on the body, so a
// slow or hostile issuer costs the auth service a bounded amount of time and memory.

import { systemRoots } from "../../protocol/client.ts";

/** What the key sources call to make a request; the standard `fetch` fits, tests pass a fake. */
export type Fetcher = (url: string, init: RequestInit) => Promise<Response>;

/**
 * The production fetcher: global fetch, trusting the bundle named by SSL_CERT_FILE when set.
 * Bun 1.4.5 reads SSL_CERT_FILE itself only once, at process start, and ignores a value set
 * later (measured; see notes/oidc-core.md), so the file is read here and passed as `tls.ca`:
 * the trust is then the same whether the variable came from the shell or from the caller's env.
 */
export function defaultFetcher(env: Record<string, string | undefined> = process.env): Fetcher {
  const ca = systemRoots(env);
  if (!ca) return (url, init) => fetch(url, init);
  return (url, init) => fetch(url, { ...init, tls: { ca } } as RequestInit);
}

export interface FetchLimits {
  /** Deadline for connect, headers and body together. */
  timeoutMs: number;
  /** Largest body accepted, in bytes. */
  maxBytes: number;
}

/** A failed fetch, with a reason short enough to end "cannot reach issuer <url>: ". */
export class FetchFailure extends Error {
  override name = "FetchFailure";
}

/** GET a JSON document over HTTPS within the limits; throws FetchFailure with the reason. */
export async function fetchJson(url: string, fetcher: Fetcher, limits: FetchLimits): Promise<unknown> {
  if (!url.startsWith("https://")) throw new FetchFailure(`${url} is not an https:// URL`);
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), limits.timeoutMs);
  try {
    const res = await fetcher(url, {
      method: "GET",
      headers: { accept: "application/json" },
      // A redirect could lead off HTTPS or to another host's keys; issuers serve these
      // documents directly, so a redirect is treated as a failure rather than followed.
      redirect: "manual",
      signal: abort.signal,
    });
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => {});
      const where = res.status >= 300 && res.status < 400 ? " (redirects are not followed)" : "";
      throw new FetchFailure(`${url} answered HTTP ${res.status}${where}`);
    }
    const declared = Number(res.headers.get("content-length") ?? Number.NaN);
    if (declared > limits.maxBytes) {
      await res.body?.cancel().catch(() => {});
      throw new FetchFailure(`${url} sent ${declared} bytes, more than the ${limits.maxBytes} accepted`);
    }
    const text = await readCapped(res, url, limits.maxBytes);
    try {
      return JSON.parse(text);
    } catch {
      throw new FetchFailure(`${url} did not answer with JSON`);
    }
  } catch (e) {
    if (e instanceof FetchFailure) throw e;
    if (abort.signal.aborted) throw new FetchFailure(`${url} did not answer within ${limits.timeoutMs} ms`);
    throw new FetchFailure(describeNetworkError(url, e as Error));
  } finally {
    clearTimeout(timer);
  }
}

async function readCapped(res: Response, url: string, maxBytes: number): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw new FetchFailure(`${url} sent more than the ${maxBytes} bytes accepted`);
    }
    chunks.push(value);
  }
  return new TextDecoder("utf-8", { fatal: false }).decode(Buffer.concat(chunks));
}

function describeNetworkError(url: string, e: Error): string {
  const m = `${(e as { code?: string }).code ?? ""} ${e?.message ?? String(e)}`;
  const host = safeHost(url);
  if (/ECONNREFUSED|ConnectionRefused/i.test(m)) return `connection to ${host} refused`;
  if (/ENOTFOUND|getaddrinfo|DNS/i.test(m)) return `cannot resolve ${host}`;
  if (/certificate|self.signed|UNABLE_TO_VERIFY|CERT_|DEPTH_ZERO|unknown ca/i.test(m))
    return `${host} presented a certificate that is not trusted (${firstLine(e.message)}); the system roots are used, or the bundle named by SSL_CERT_FILE`;
  if (/timed? ?out|ETIMEDOUT/i.test(m)) return `connection to ${host} timed out`;
  return `${host}: ${firstLine(e?.message ?? String(e))}`;
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

function firstLine(s: string): string {
  const line = s.trim().split("\n")[0] ?? "";
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}
