// Routing and request plumbing for the auth API, separate from the TLS listener so the
// handlers read as a table.

import type { TlsIdentity } from "../../crypto/tls-identity.ts";

export interface RequestContext {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
  /** Set when the client presented a certificate that chains to the user CA. */
  caller?: TlsIdentity;
  remoteAddr: string;
  /** The address the client used (HTTP/2 :authority or Host), unvalidated. */
  host?: string;
}

export type Access = "public" | "identity" | "bot" | "admin";

export interface Route {
  method: "GET" | "POST";
  path: string;
  access: Access;
  handle(ctx: RequestContext): Promise<unknown>;
  /** Raw responses (install script, packages) bypass JSON encoding. */
  raw?: boolean;
  /** Match every path under `path` (which ends in "/"), e.g. /packages/<file>. */
  prefix?: boolean;
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
