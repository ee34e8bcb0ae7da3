// The auth service's HTTPS listener: HTTP/2 with HTTP/1.1 fallback over TLS 1.2+, client
// certificates requested but optional (ping and join are unauthenticated). On Bun 1.4.5 this
// is the server type whose request socket exposes the peer certificate (node:https' does not).

import { createReadStream } from "node:fs";
import http2 from "node:http2";
import type { TLSSocket } from "node:tls";
import { parseTlsIdentity, type TlsIdentity } from "../../crypto/tls-identity.ts";
import { accessDenied, badParameter, notFound, UserError } from "../../util/errors.ts";
import { logger } from "../../util/log.ts";
import { assertNotLocked } from "../locks.ts";
import type { AuthService } from "../service.ts";
import type { RequestContext, Router } from "./router.ts";

const log = logger("AUTH:HTTP");
const MAX_BODY = 1 << 20;
export const IDLE_TIMEOUT_MS = 15_000;

export interface TlsMaterial {
  certPem: string;
  keyPem: string;
  /** CAs whose client certificates are accepted (the user CA). */
  clientCaPems: string[];
}

function callerOf(socket: TLSSocket): TlsIdentity | undefined {
  if (!socket.authorized) return undefined;
  const peer = socket.getPeerCertificate?.(false);
  if (!peer?.raw) return undefined;
  return parseTlsIdentity(new Uint8Array(peer.raw));
}

async function readBody(req: http2.Http2ServerRequest): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw badParameter("request body too large");
    chunks.push(c as Buffer);
  }
  if (!size) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw badParameter("request body is not valid JSON");
  }
}

function send(res: http2.Http2ServerResponse, status: number, body: unknown): void {
  if (body instanceof RawResponse) {
    res.writeHead(status, body.headers);
    if (typeof body.data === "object" && "file" in body.data) {
      // Packages are tens of MiB: stream them rather than hold each download in memory.
      const stream = createReadStream(body.data.file);
      stream.on("error", () => res.destroy());
      stream.pipe(res as unknown as NodeJS.WritableStream);
    } else res.end(body.data);
    return;
  }
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
  res.end(JSON.stringify(body ?? {}));
}

/** A non-JSON response (scripts, packages): bytes, or a file streamed from disk. */
export class RawResponse {
  constructor(
    readonly data: Uint8Array | string | { file: string },
    readonly headers: Record<string, string>,
  ) {}
}

export function startHttpServer(
  svc: AuthService,
  router: Router,
  tls: TlsMaterial,
  host: string,
  port: number,
): Promise<http2.Http2SecureServer> {
  const server = http2.createSecureServer(
    {
      cert: tls.certPem,
      key: tls.keyPem,
      ca: tls.clientCaPems,
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: "TLSv1.2",
      allowHTTP1: true,
    },
    async (req, res) => {
      const started = performance.now();
      const url = new URL(req.url ?? "/", "https://tauth");
      const socket = req.socket as unknown as TLSSocket;
      const remoteAddr = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? 0}`;
      let status = 200;
      try {
        const route = router.find(req.method ?? "GET", url.pathname);
        if (!route) {
          if (router.hasPath(url.pathname))
            throw new UserError(`method ${req.method} not allowed`, "bad_parameter");
          throw notFound(`no such endpoint ${url.pathname}`);
        }
        const caller = callerOf(socket);
        if (route.access !== "public") {
          if (!caller) throw accessDenied("this endpoint needs a client certificate issued by this cluster");
          if (caller.clusterName !== svc.clusterName)
            throw accessDenied("client certificate is from another cluster");
          if (route.access === "admin" && caller.systemRole !== "Admin")
            throw accessDenied("this endpoint is for cluster administrators (tctl with the admin identity)");
          if (route.access === "bot" && !caller.botName) throw accessDenied("this endpoint is for bots");
          await assertNotLocked(svc, caller);
        }
        const ctx: RequestContext = {
          method: req.method ?? "GET",
          path: url.pathname,
          query: url.searchParams,
          body: req.method === "POST" ? await readBody(req) : undefined,
          caller,
          remoteAddr,
          host: req.authority || req.headers.host,
        };
        send(res, 200, await route.handle(ctx));
      } catch (e) {
        let err: UserError | null = e instanceof UserError ? e : null;
        if (!err)
          log.error("internal error", { path: url.pathname, error: String((e as Error)?.stack ?? e) });
        status = err ? err.httpStatus : 500;
        err ??= new UserError("internal error; see the auth service log", "internal");
        send(res, status, { error: { code: err.code, message: err.message } });
      } finally {
        log.debug("request", {
          method: req.method,
          path: url.pathname,
          status,
          ms: Math.round(performance.now() - started),
        });
      }
    },
  );
  // Close connections idle for 15 s. Clients keep connections alive within a join or an
  // output run; a long-running bot gets a new client certificate at every renewal (a new
  // connection), and without this its old idle connections would stay open on both ends.
  server.on("secureConnection", (sock: TLSSocket) => {
    sock.setTimeout(IDLE_TIMEOUT_MS, () => sock.destroy());
  });
  server.on("tlsClientError", (err) => log.debug("TLS handshake failed", { error: err.message }));
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}
