// Routing and request plumbing for the auth API, separate from the TLS listener so the
// handlers read as a table.

import type { TlsIdentity } from "../../crypto/tls-identity.ts";
import { parseJsonBounded, type Schema } from "../../protocol/validate.ts";

export interface RequestContext<B = unknown> {
  method: string;
  path: string;
  query: URLSearchParams;
  /** The body validated by the route's schema (undefined for GET). */
  body: B;
  /** Set when the client presented a certificate that chains to the user CA. */
  caller?: TlsIdentity;
  remoteAddr: string;
  /** The address the client used (HTTP/2 :authority or Host), unvalidated. */
  host?: string;
  /** The request's headers (the web console reads its cookie, Origin and Sec-Fetch-Site). */
  headers?: Record<string, string | string[] | undefined>;
}

export type Access = "public" | "identity" | "bot" | "admin";

export interface Route<B = unknown> {
  method: "GET" | "POST";
  path: string;
  access: Access;
  /**
   * POST bodies: the message schema. The body is parsed (nesting bounded) and validated
   * before the handler runs; a failure is a 400 naming the field. An empty body is
   * validated as {}.
   */
  body?: Schema<B>;
  /** Largest body accepted, in bytes (413 beyond); default: the server's defaultMaxBody. */
  maxBody?: number;
  /**
   * Rate-limit requests without a client certificate of this cluster per source address
   * (429 with Retry-After): unauthenticated joins.
   */
  rateLimitUnauthenticated?: boolean;
  handle(ctx: RequestContext<B>): Promise<unknown>;
  /** Raw responses (install script, packages) bypass JSON encoding. */
  raw?: boolean;
  /** Match every path under `path` (which ends in "/"), e.g. /packages/<file>. */
  prefix?: boolean;
  /** POST bodies handed over unparsed (a Buffer in ctx.body): the web console's HTML forms. */
  rawBody?: boolean;
}

/** A route with its body type checked against its schema. */
export function route<B>(r: Route<B>): Route {
  return r as Route;
}

/** Parses and validates a POST body for `r`: JSON nesting bounded, then the route's schema. */
export function decodeBody(r: Route, raw: Buffer): unknown {
  if (r.rawBody) return raw;
  const text = raw.length ? raw.toString("utf8") : "";
  const value = text.trim() ? parseJsonBounded(text) : r.body ? {} : undefined;
  return r.body ? r.body.parse(value, "") : value;
}

export class Router {
  private readonly routes = new Map<string, Route>();
  add(...routes: Route[]): this {
    for (const r of routes) this.routes.set(`${r.method} ${r.path}`, r);
    return this;
  }
  find(method: string, path: string): Route | undefined {
    const exact = this.routes.get(`${method} ${path}`);
    if (exact) return exact;
    for (const r of this.routes.values())
      if (r.prefix && r.method === method && path.startsWith(r.path) && path.length > r.path.length) return r;
    return undefined;
  }
  hasPath(path: string): boolean {
    for (const r of this.routes.values())
      if (r.path === path || (r.prefix && path.startsWith(r.path) && path.length > r.path.length))
        return true;
    return false;
  }
}
