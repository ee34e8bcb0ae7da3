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
}

export type Access = "public" | "identity" | "bot" | "admin";

export interface Route {
  method: "GET" | "POST";
  path: string;
  access: Access;
  handle(ctx: RequestContext): Promise<unknown>;
  /** Raw responses (install script, packages) bypass JSON encoding. */
  raw?: boolean;
}

export class Router {
  private readonly routes = new Map<string, Route>();
  add(...routes: Route[]): this {
    for (const r of routes) this.routes.set(`${r.method} ${r.path}`, r);
    return this;
  }
  find(method: string, path: string): Route | undefined {
    return this.routes.get(`${method} ${path}`);
  }
  hasPath(path: string): boolean {
    for (const r of this.routes.values()) if (r.path === path) return true;
    return false;
  }
}
