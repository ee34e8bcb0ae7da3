// The HTTPS client for the auth API, used by tbot and tctl. It always verifies the server:
// against the cluster's host CA (after first contact), against system roots (proxy mode,
// honouring SSL_CERT_FILE), or not at all only when the user asked for --insecure.

import { readFileSync } from "node:fs";
import { connectionProblem, errorCodeFromHttpStatus, UserError } from "../util/errors.ts";
import type { ErrorBody } from "./messages.ts";

export interface ClientTls {
  /** PEM CA certificates to trust; undefined means the system roots. */
  ca?: string[];
  /** Client certificate and key (PEM) for mTLS. */
  cert?: string;
  key?: string;
  /** Development only: no server verification. */
  insecure?: boolean;
  /**
   * Reuse connections (default). Off for a bot's identity-bound clients: each identity lives
   * one renewal interval, so a pooled connection would only sit idle under an old certificate.
   */
  keepAlive?: boolean;
}

export class ApiClient {
  readonly baseUrl: string;
  constructor(
    readonly addr: string,
    private readonly tls: ClientTls,
  ) {
    this.baseUrl = `https://${addr}`;
  }

  /** The server's clock (its last response's Date header, unix ms): tctl judges staleness by it. */
  serverDate: number | undefined;

  withIdentity(cert: string, key: string): ApiClient {
    return new ApiClient(this.addr, { ...this.tls, cert, key });
  }

  private tlsOptions(): Record<string, unknown> {
    const o: Record<string, unknown> = {};
    if (this.tls.insecure) o.rejectUnauthorized = false;
    else if (this.tls.ca) o.ca = this.tls.ca;
    if (this.tls.cert && this.tls.key) {
      o.cert = this.tls.cert;
      o.key = this.tls.key;
    }
    return o;
  }

  async get<T>(path: string, query?: Record<string, string>): Promise<T> {
    const qs = query ? `?${new URLSearchParams(query)}` : "";
    return this.request<T>("GET", path + qs);
  }

  async post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>("POST", path, body);
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(this.baseUrl + path, {
        method,
        headers: body === undefined ? {} : { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        tls: this.tlsOptions(),
        keepalive: this.tls.keepAlive !== false,
      } as RequestInit);
    } catch (e) {
      throw describeFetchError(this.addr, e as Error);
    }
    const date = Date.parse(res.headers.get("date") ?? "");
    if (!Number.isNaN(date)) this.serverDate = date;
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      throw connectionProblem(
        `${this.addr} answered ${res.status} with a body that is not JSON; is this a tauth server?`,
      );
    }
    if (!res.ok) {
      const err = (parsed as ErrorBody).error;
      const code = (err?.code as UserError["code"]) ?? errorCodeFromHttpStatus(res.status);
      const message = err?.message ?? `request failed with HTTP ${res.status}`;
      const retryAfter = Number(res.headers.get("retry-after") ?? Number.NaN);
      if (res.status === 429 && Number.isFinite(retryAfter) && retryAfter >= 0)
        throw new RateLimitedError(message, retryAfter * 1000);
      throw new UserError(message, code);
    }
    return parsed as T;
  }
}

/** A 429 from tauth (too many joins from this address): retry after `retryAfterMs`. */
export class RateLimitedError extends UserError {
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message, "limit_exceeded");
    this.name = "RateLimitedError";
  }
}

function describeFetchError(addr: string, e: Error): UserError {
  const m = `${(e as { code?: string }).code ?? ""} ${e.message}`;
  if (/ECONNREFUSED|ConnectionRefused/i.test(m))
    return connectionProblem(
      `cannot connect to ${addr}: connection refused (is the auth server running there?)`,
    );
  if (/certificate|self.signed|UNABLE_TO_VERIFY|CERT_|DEPTH_ZERO|unknown ca/i.test(m))
    return new UserError(
      `the server at ${addr} presented a certificate this client does not trust (${e.message.trim()}); check --ca-pin/ca_path, or SSL_CERT_FILE for a proxy`,
      "access_denied",
    );
  if (/ENOTFOUND|getaddrinfo|DNS/i.test(m)) return connectionProblem(`cannot resolve host of ${addr}`);
  if (/timed? ?out|ETIMEDOUT/i.test(m)) return connectionProblem(`connection to ${addr} timed out`);
  return connectionProblem(`cannot reach ${addr}: ${e.message.trim()}`);
}

/** System trust roots for proxy mode, honouring SSL_CERT_FILE as OpenSSL-based tools do. */
export function systemRoots(env: Record<string, string | undefined> = process.env): string[] | undefined {
  const file = env.SSL_CERT_FILE;
  if (!file) return undefined;
  try {
    return [readFileSync(file, "utf8")];
  } catch (e) {
    throw new UserError(`SSL_CERT_FILE=${file} cannot be read: ${(e as Error).message}`);
  }
}
