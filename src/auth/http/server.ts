// The auth service's HTTPS listener: HTTP/2 with HTTP/1.1 fallback over TLS 1.2+, client
// certificates requested but optional (ping and join are unauthenticated). On Bun 1.4.5 this
// is the server type whose request socket exposes the peer certificate (node:https' does not).
//
// Bounded by design (limits.ts has the figures): TLS 1.2 with ECDHE AEAD suites only; a cap
// on connections per source IP and header/idle deadlines (connections.ts); a body cap per
// route (413) and a body deadline (408); bodies parsed with bounded nesting and validated by
// the route's schema before the handler (400 naming the field); unauthenticated joins
// rate-limited per source IP (429 + Retry-After, audited in aggregate, rate-limit.ts).

import { createReadStream } from "node:fs";
import http2 from "node:http2";
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { parseTlsIdentity, type TlsIdentity } from "../../crypto/tls-identity.ts";
import { accessDenied, notFound, UserError } from "../../util/errors.ts";
import { logger } from "../../util/log.ts";
import { AuditAggregator } from "../audit-aggregate.ts";
import { assertNotLocked } from "../locks.ts";
import { denial, denialReason, metricsSink } from "../metrics/observer.ts";
import type { AuthService } from "../service.ts";
import { addressGroup, ConnectionGuard, normalizeIp } from "./connections.ts";
import { limitsFromEnv, type ServerLimits } from "./limits.ts";
import { JoinRateLimiter } from "./rate-limit.ts";
import { decodeBody, type RequestContext, type Route, type Router } from "./router.ts";

const log = logger("AUTH:HTTP");

/**
 * TLS 1.2 suites offered: ECDHE key exchange with AEAD ciphers only (no CBC, no static RSA).
 * TLS 1.3 suites are all AEAD and listed too, so setting `ciphers` does not disable them.
 */
export const TLS_CIPHERS = [
  "TLS_AES_128_GCM_SHA256",
  "TLS_AES_256_GCM_SHA384",
  "TLS_CHACHA20_POLY1305_SHA256",
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
].join(":");

/** HTTP methods kept as a label value; any other is "other". */
const METHODS = new Set(["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"]);

/** The response header naming the replica that answered (AuthService.replicaId). */
export const REPLICA_HEADER = "x-tauth-replica";

/** An error answered with a status of its own (413, 408) rather than its code's. */
export class HttpStatusError extends UserError {
  constructor(
    message: string,
    code: UserError["code"],
    readonly status: number,
  ) {
    super(message, code);
  }
  override get httpStatus(): number {
    return this.status;
  }
}

const tooLarge = (max: number) =>
  new HttpStatusError(
    `request body too large: this endpoint accepts at most ${max} bytes`,
    "limit_exceeded",
    413,
  );

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

/** Reads a body of at most maxBody bytes within timeoutMs; 413 / 408 otherwise. */
function readBody(req: http2.Http2ServerRequest, maxBody: number, timeoutMs: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > maxBody) return Promise.reject(tooLarge(maxBody));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = (err?: Error) => {
      clearTimeout(timer);
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("aborted", onAborted);
      if (err) {
        req.pause();
        reject(err);
      } else resolve(Buffer.concat(chunks, size));
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > maxBody) stop(tooLarge(maxBody));
      else chunks.push(c);
    };
    const onEnd = () => stop();
    // The client went away mid-body: nobody reads the answer; not a server error either.
    const gone = () => new HttpStatusError("request aborted by the client", "bad_parameter", 400);
    const onError = () => stop(gone());
    const onAborted = () => stop(gone());
    const timer = setTimeout(
      () =>
        stop(
          new HttpStatusError(
            `request body not received within ${Math.round(timeoutMs / 1000)} s`,
            "connection_problem",
            408,
          ),
        ),
      timeoutMs,
    );
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("aborted", onAborted);
  });
}

function send(
  res: http2.Http2ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (body instanceof RawResponse) {
    res.writeHead(body.status ?? status, body.headers);
    if (typeof body.data === "object" && "file" in body.data) {
      // Packages are tens of MiB: stream them rather than hold each download in memory.
      const stream = createReadStream(body.data.file);
      stream.on("error", () => res.destroy());
      stream.pipe(res as unknown as NodeJS.WritableStream);
    } else res.end(body.data);
    return;
  }
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", ...headers });
  res.end(JSON.stringify(body ?? {}));
}

/** A non-JSON response (scripts, packages): bytes, or a file streamed from disk. */
export class RawResponse {
  constructor(
    readonly data: Uint8Array | string | { file: string },
    readonly headers: Record<string, string | string[]>,
    /** The status to answer with (the web console: 303 redirects, 401 sign-in pages); default 200. */
    readonly status?: number,
  ) {}
}

const maxBodyOf = (r: Route, l: ServerLimits) => r.maxBody ?? l.defaultMaxBody;

/** A caller whose client certificate is a bot identity of this cluster (a refresh, not a stranger). */
function isClusterBot(svc: AuthService, caller: TlsIdentity | undefined): boolean {
  return !!caller?.botName && caller.clusterName === svc.clusterName;
}

/** HTTP/2: after a complete response to a request whose body was refused, reset its stream (NO_ERROR). */
function closeStream(req: http2.Http2ServerRequest): void {
  try {
    req.stream?.close?.(http2.constants.NGHTTP2_NO_ERROR);
  } catch {
    // already closed
  }
}

export function startHttpServer(
  svc: AuthService,
  router: Router,
  tls: TlsMaterial,
  host: string,
  port: number,
  limitsOverride?: Partial<ServerLimits>,
  /** reusePort: share the port with other processes (tauth's workers; SO_REUSEPORT on Linux). */
  listenOpts: { reusePort?: boolean } = {},
): Promise<http2.Http2SecureServer> {
  const limits: ServerLimits = { ...limitsFromEnv(), ...limitsOverride };
  const guard = new ConnectionGuard(limits);
  const joinLimiter = new JoinRateLimiter(
    limits.joinRate,
    limits.joinBurst,
    svc.audit,
    limits.rateAuditWindowMs,
  );
  // Requests refused by a lock: audited per bot instance, at most two lines a window each.
  const lockedAudit = new AuditAggregator(svc.audit, "request.locked", limits.rateAuditWindowMs);
  const server = http2.createSecureServer(
    {
      cert: tls.certPem,
      key: tls.keyPem,
      ca: tls.clientCaPems,
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: "TLSv1.2",
      ciphers: TLS_CIPHERS,
      honorCipherOrder: true,
      handshakeTimeout: limits.headerTimeoutMs,
      allowHTTP1: true,
    },
    async (req, res) => {
      const started = performance.now();
      const url = new URL(req.url ?? "/", "https://tauth");
      const socket = req.socket as unknown as TLSSocket;
      const remoteAddr = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? 0}`;
      const done = guard.requestStarted(socket.remoteAddress, socket.remotePort);
      // Which replica answered (behind a load balancer): on every response, errors included.
      res.setHeader(REPLICA_HEADER, svc.replicaId);
      res.once("close", done);
      res.once("finish", done);
      let status = 200;
      let extraHeaders: Record<string, string> = {};
      let bodyUnread = req.method === "POST";
      // The route's pattern (never the raw path) labels the latency metric.
      let routeLabel = "unmatched";
      try {
        const route = router.find(req.method ?? "GET", url.pathname);
        if (route) routeLabel = route.path;
        if (!route) {
          if (router.hasPath(url.pathname))
            throw new UserError(`method ${req.method} not allowed`, "bad_parameter");
          throw notFound(`no such endpoint ${url.pathname}`);
        }
        const caller = callerOf(socket);
        if (route.access !== "public") {
          if (!caller)
            throw denial(
              accessDenied("this endpoint needs a client certificate issued by this cluster"),
              "no_client_certificate",
            );
          if (caller.clusterName !== svc.clusterName)
            throw denial(accessDenied("client certificate is from another cluster"), "wrong_cluster");
          if (route.access === "admin" && caller.systemRole !== "Admin")
            throw denial(
              accessDenied("this endpoint is for cluster administrators (tctl with the admin identity)"),
              "wrong_role",
            );
          if (route.access === "bot" && !caller.botName)
            throw denial(accessDenied("this endpoint is for bots"), "wrong_role");
          await assertNotLocked(svc, caller, (lock) =>
            lockedAudit.record(`${caller.botName}/${caller.botInstanceId ?? ""}`, {
              bot: caller.botName,
              bot_instance_id: caller.botInstanceId,
              lock: lock.metadata.name,
              lock_target: lock.spec.target,
              route: routeLabel,
              remote_addr: remoteAddr,
            }),
          );
        }
        if (route.rateLimitUnauthenticated && !isClusterBot(svc, caller)) {
          const from = addressGroup(normalizeIp(socket.remoteAddress));
          const wait = joinLimiter.take(from);
          if (wait > 0) {
            extraHeaders = { "retry-after": String(wait) };
            throw denial(
              new UserError(`too many join attempts from ${from}; retry in ${wait} s`, "limit_exceeded"),
              "rate_limited",
            );
          }
        }
        let body: unknown;
        if (req.method === "POST") {
          const raw = await readBody(req, maxBodyOf(route, limits), limits.bodyTimeoutMs);
          bodyUnread = false;
          body = decodeBody(route, raw);
        }
        const ctx: RequestContext = {
          method: req.method ?? "GET",
          path: url.pathname,
          query: url.searchParams,
          body,
          caller,
          remoteAddr,
          host: req.authority || req.headers.host,
          headers: req.headers,
        };
        send(res, 200, await route.handle(ctx));
      } catch (e) {
        let err: UserError | null = e instanceof UserError ? e : null;
        if (!err)
          log.error("internal error", { path: url.pathname, error: String((e as Error)?.stack ?? e) });
        status = err ? err.httpStatus : 500;
        const reason = denialReason(e);
        if (reason) metricsSink()?.denied(reason);
        err ??= new UserError("internal error; see the auth service log", "internal");
        // A body left unread (refused before or while reading): answer, then close the
        // connection rather than read on, so a refused upload costs nothing more.
        if (bodyUnread && req.httpVersionMajor === 1) extraHeaders = { ...extraHeaders, connection: "close" };
        if (res.headersSent || res.writableEnded) res.destroy();
        else send(res, status, { error: { code: err.code, message: err.message } }, extraHeaders);
        if (bodyUnread) {
          if (req.httpVersionMajor === 1) guard.closeLater(socket.remoteAddress, socket.remotePort, 1000);
          else res.once("finish", () => closeStream(req));
        }
      } finally {
        metricsSink()?.request(
          routeLabel,
          METHODS.has(req.method ?? "") ? req.method! : "other",
          status,
          (performance.now() - started) / 1000,
        );
        log.debug("request", {
          method: req.method,
          path: url.pathname,
          status,
          ms: Math.round(performance.now() - started),
        });
      }
    },
  );
  server.on("connection", (sock: Socket) => guard.onConnection(sock));
  server.on("close", () => {
    joinLimiter.close();
    lockedAudit.close();
  });
  // Close connections idle for 15 s. Clients keep connections alive within a join or an
  // output run; a long-running bot gets a new client certificate at every renewal (a new
  // connection), and without this its old idle connections would stay open on both ends.
  // The guard closes a connection with no request in progress idleTimeoutMs after its last
  // response; the socket timeout below also catches a silent peer mid-request (HTTP/1.1).
  // Not for HTTP/2: on Bun 1.4.5 HTTP/2 traffic does not refresh the socket's timeout, so a
  // session busy with requests every second was cut every 15 s.
  server.on("secureConnection", (sock: TLSSocket) => {
    if (sock.alpnProtocol !== "h2") sock.setTimeout(limits.idleTimeoutMs, () => sock.destroy());
  });
  server.on("tlsClientError", (err) => log.debug("TLS handshake failed", { error: err.message }));
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    const done = () => {
      server.off("error", reject);
      resolve(server);
    };
    if (listenOpts.reusePort) server.listen({ port, host, reusePort: true }, done);
    else server.listen(port, host, done);
  });
}
