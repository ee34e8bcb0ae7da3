// The SPIFFE Workload API server (gRPC over a Unix socket) for the `workload-identity-api`
// service. Transport: @grpc/grpc-js on node:http2 (Bun 1.4.5's node:http2 sends the trailers
// gRPC status needs; Bun.serve does not). The listening socket is our own node:net server so
// each accepted connection can be attested (SO_PEERCRED) before grpc-js sees it; grpc-js gets it
// through its connection injector, and the call finds its peer again by a per-connection token
// put in the socket's remoteAddress (what grpc-js's call.getPeer() returns).
// Rules from the SPIFFE Workload Endpoint spec: `workload.spiffe.io: true` metadata on every
// call (InvalidArgument without), PermissionDenied when the caller has no identity,
// Unavailable while the source has nothing yet or the server shuts down.

import { chmodSync, lstatSync, mkdirSync, unlinkSync } from "node:fs";
import net from "node:net";
import { dirname } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { createLocalJWKSet, decodeJwt, jwtVerify } from "jose";
import { logger } from "../../util/log.ts";
import { type AttestedPeer, attestUnixSocket } from "./attest-unix.ts";
import {
  DecodeError,
  decodeEmpty,
  decodeJwtSvidRequest,
  decodeValidateJwtSvidRequest,
  encodeJwtBundlesResponse,
  encodeJwtSvidResponse,
  encodeValidateJwtSvidResponse,
  encodeX509BundlesResponse,
  encodeX509SvidResponse,
  type JwtSvidRequest,
  type ValidateJwtSvidRequest,
} from "./codec.ts";
import {
  PermissionDeniedError,
  UnavailableError,
  type WorkloadAttributes,
  type WorkloadIdentitySource,
} from "./types.ts";

const log = logger("TBOT:WORKLOAD-API");
const SECURITY_HEADER = "workload.spiffe.io";
const PEER_PREFIX = "wlapi-peer-";

export interface WorkloadApiOptions {
  /** `unix:///absolute/path.sock` */
  listen: string;
  source: WorkloadIdentitySource;
  /** Mode of the socket file; default 0o777 (attestation, not the file mode, decides access). */
  socketMode?: number;
  /** Open streams per connected process; default 1024. Over it: ResourceExhausted. */
  maxStreamsPerPeer?: number;
  /** Attestor override (tests); default SO_PEERCRED of the accepted socket. */
  attest?: (sock: net.Socket) => AttestedPeer;
}

export interface WorkloadApiServer {
  /** The socket path. */
  path: string;
  /** Open streams now (for figures and tests). */
  openStreams(): number;
  /** Ends every stream with Unavailable, closes connections and removes the socket file. */
  close(): Promise<void>;
}

/** `unix:///abs/path` → `/abs/path`; anything else throws. */
export function parseListen(listen: string): string {
  const m = /^unix:\/\/(\/[^?#]*[^/?#])$/.exec(listen);
  if (!m?.[1]) {
    throw new Error(
      `workload-identity-api: listen ${JSON.stringify(listen)} is not unix:///absolute/path (tcp:// is not supported)`,
    );
  }
  return m[1];
}

interface GrpcError {
  code: grpc.status;
  details: string;
}

const err = (code: grpc.status, details: string): GrpcError => ({ code, details });

function toGrpcError(e: unknown): GrpcError {
  if (e instanceof PermissionDeniedError) return err(grpc.status.PERMISSION_DENIED, e.message);
  if (e instanceof UnavailableError) return err(grpc.status.UNAVAILABLE, e.message);
  if (e instanceof DecodeError) return err(grpc.status.INVALID_ARGUMENT, `bad request: ${e.message}`);
  if (e && typeof e === "object" && "code" in e && "details" in e) return e as GrpcError;
  log.error("workload API call failed", { error: e instanceof Error ? e.message : String(e) });
  return err(grpc.status.INTERNAL, "internal error");
}

const tdOf = (spiffeId: string): string => /^spiffe:\/\/([^/]+)/.exec(spiffeId)?.[1] ?? "";
const tdKey = (td: string): string => `spiffe://${td}`;

type AnyCall = grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>;

export async function startWorkloadApi(opts: WorkloadApiOptions): Promise<WorkloadApiServer> {
  const path = parseListen(opts.listen);
  const source = opts.source;
  const maxStreams = opts.maxStreamsPerPeer ?? 1024;
  const attest = opts.attest ?? attestUnixSocket;

  const peers = new Map<string, AttestedPeer>();
  const streamsByPid = new Map<number, number>();
  const streams = new Set<grpc.ServerWritableStream<unknown, unknown>>();
  const sockets = new Set<net.Socket>();
  let closing = false;
  let seq = 0;

  /** Security header, attestation, entitlement: the common prologue of every method. */
  async function admit(call: AnyCall): Promise<{ attrs: WorkloadAttributes; peer: AttestedPeer }> {
    if (closing) throw err(grpc.status.UNAVAILABLE, "the Workload API is shutting down");
    const hdr = call.metadata.get(SECURITY_HEADER);
    if (hdr.length !== 1 || hdr[0] !== "true") {
      throw err(grpc.status.INVALID_ARGUMENT, "security header missing from request");
    }
    if (call.request instanceof DecodeError) throw call.request;
    const peer = peers.get(call.getPeer());
    if (!peer) throw err(grpc.status.UNAVAILABLE, "the caller was not attested");
    const ids = await source.identities(peer.attrs);
    if (!peer.stillSameProcess()) {
      throw err(grpc.status.PERMISSION_DENIED, "the calling process exited during attestation");
    }
    if (ids.length === 0) {
      throw err(
        grpc.status.PERMISSION_DENIED,
        `no identity issued: no rule matches uid ${peer.attrs.unix.uid}, gid ${peer.attrs.unix.gid}`,
      );
    }
    return { attrs: peer.attrs, peer };
  }

  function unary<Req>(
    handle: (req: Req, attrs: WorkloadAttributes) => Promise<Uint8Array>,
  ): grpc.handleUnaryCall<Req, Uint8Array> {
    return (call, callback) => {
      admit(call)
        .then(({ attrs }) => handle(call.request, attrs))
        .then(
          (res) => callback(null, Buffer.from(res.buffer, res.byteOffset, res.byteLength)),
          (e) => callback(toGrpcError(e)),
        );
    };
  }

  /** A server stream that sends `build()` at once and again after every rotation. */
  function pushStream(
    build: (attrs: WorkloadAttributes) => Promise<Uint8Array>,
  ): grpc.handleServerStreamingCall<unknown, Uint8Array> {
    return (call) => {
      let ended = false;
      let unsubscribe = () => {};
      let pid = -1;
      const finish = () => {
        if (ended) return;
        ended = true;
        unsubscribe();
        streams.delete(call as grpc.ServerWritableStream<unknown, unknown>);
        if (pid >= 0) {
          const n = (streamsByPid.get(pid) ?? 1) - 1;
          if (n <= 0) streamsByPid.delete(pid);
          else streamsByPid.set(pid, n);
        }
      };
      const fail = (e: unknown) => {
        if (ended) return;
        const ge = toGrpcError(e);
        finish();
        call.emit("error", ge);
      };
      call.on("cancelled", finish);
      call.on("close", finish);
      call.on("error", finish);
      admit(call).then(({ attrs, peer }) => {
        if (ended) return;
        pid = attrs.unix.pid;
        const n = streamsByPid.get(pid) ?? 0;
        if (n >= maxStreams) {
          pid = -1;
          fail(err(grpc.status.RESOURCE_EXHAUSTED, `at most ${maxStreams} open streams per process`));
          return;
        }
        streamsByPid.set(pid, n + 1);
        streams.add(call as grpc.ServerWritableStream<unknown, unknown>);
        // One send at a time, in order; a rotation during a send queues one more send. A message
        // byte-for-byte the same as the last one sent (bundles after an SVID-only renewal) is
        // not sent again.
        let chain: Promise<void> = Promise.resolve();
        let last: Buffer | null = null;
        const send = () => {
          chain = chain.then(async () => {
            if (ended) return;
            try {
              const msg = await build(attrs);
              if (!peer.stillSameProcess()) {
                throw err(grpc.status.PERMISSION_DENIED, "the calling process is gone");
              }
              const buf = Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength);
              if (ended || last?.equals(buf)) return;
              last = buf;
              call.write(buf);
            } catch (e) {
              fail(e);
            }
          });
        };
        unsubscribe = source.onRotate(send);
        send();
      }, fail);
    };
  }

  async function x509Svid(attrs: WorkloadAttributes): Promise<Uint8Array> {
    const svids = await source.x509Svids(attrs);
    if (svids.length === 0) throw new PermissionDeniedError("no X.509-SVID for this workload");
    const b = source.bundles();
    const own = new Set(svids.map((s) => tdOf(s.spiffeId)));
    const federated = new Map(
      [...b.x509].filter(([td]) => !own.has(td)).map(([td, certs]) => [tdKey(td), certs]),
    );
    return encodeX509SvidResponse({
      svids: svids.map((s) => ({ ...s, bundle: b.x509.get(tdOf(s.spiffeId)) ?? [] })),
      crl: b.crl,
      federatedBundles: federated,
    });
  }

  async function x509Bundles(): Promise<Uint8Array> {
    const b = source.bundles();
    return encodeX509BundlesResponse({
      bundles: new Map([...b.x509].map(([td, certs]) => [tdKey(td), certs])),
      crl: b.crl,
    });
  }

  async function jwtBundles(): Promise<Uint8Array> {
    const enc = new TextEncoder();
    const b = source.bundles();
    return encodeJwtBundlesResponse(
      new Map([...b.jwt].map(([td, jwks]) => [tdKey(td), enc.encode(JSON.stringify(jwks))])),
    );
  }

  async function fetchJwt(req: JwtSvidRequest, attrs: WorkloadAttributes): Promise<Uint8Array> {
    if (req.audience.length === 0 || req.audience.some((a) => a === "")) {
      throw err(grpc.status.INVALID_ARGUMENT, "audience must be specified");
    }
    const svids = await source.jwtSvids(attrs, req.audience, req.spiffeId || undefined);
    if (svids.length === 0) {
      throw new PermissionDeniedError(
        req.spiffeId ? `no identity ${req.spiffeId} for this workload` : "no identity for this workload",
      );
    }
    return encodeJwtSvidResponse(svids);
  }

  async function validateJwt(req: ValidateJwtSvidRequest): Promise<Uint8Array> {
    if (!req.audience) throw err(grpc.status.INVALID_ARGUMENT, "audience must be specified");
    if (!req.svid) throw err(grpc.status.INVALID_ARGUMENT, "svid must be specified");
    const invalid = (m: string) => err(grpc.status.INVALID_ARGUMENT, `invalid JWT-SVID: ${m}`);
    let sub: string;
    try {
      sub = String(decodeJwt(req.svid).sub ?? "");
    } catch {
      throw invalid("not a JWT");
    }
    const td = tdOf(sub);
    if (!td) throw invalid("subject is not a SPIFFE ID");
    const jwks = source.bundles().jwt.get(td);
    if (!jwks) throw invalid(`no JWT bundle for trust domain ${td}`);
    // SPIFFE bundles mark JWT keys `"use": "jwt-svid"`; jose only takes keys without `use` or
    // with `"use": "sig"`, so the member is dropped for the lookup.
    const keys = (jwks.keys as Record<string, unknown>[]).map(({ use: _use, ...k }) => k);
    try {
      const { payload } = await jwtVerify(
        req.svid,
        createLocalJWKSet({ keys } as Parameters<typeof createLocalJWKSet>[0]),
        {
          audience: req.audience,
          requiredClaims: ["sub", "aud", "exp"],
          algorithms: ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512"],
        },
      );
      return encodeValidateJwtSvidResponse({ spiffeId: sub, claims: payload as Record<string, unknown> });
    } catch (e) {
      throw invalid(e instanceof Error ? e.message : "verification failed");
    }
  }

  const server = new grpc.Server({ "grpc.max_receive_message_length": 64 * 1024 });
  const id = (b: Buffer) => b;
  const method = (name: string, responseStream: boolean, decode: (b: Uint8Array) => unknown) => ({
    path: `/SpiffeWorkloadAPI/${name}`,
    requestStream: false,
    responseStream,
    requestSerialize: id,
    // A malformed body becomes a DecodeError value: admit() answers InvalidArgument for it
    // (a throw here would reach the client as Internal).
    requestDeserialize: (b: Buffer) => {
      try {
        return decode(b);
      } catch (e) {
        return e instanceof DecodeError ? e : new DecodeError(String(e));
      }
    },
    responseSerialize: id,
    responseDeserialize: id,
    originalName: name,
  });
  server.addService(
    {
      FetchX509SVID: method("FetchX509SVID", true, decodeEmpty),
      FetchX509Bundles: method("FetchX509Bundles", true, decodeEmpty),
      FetchJWTSVID: method("FetchJWTSVID", false, decodeJwtSvidRequest),
      FetchJWTBundles: method("FetchJWTBundles", true, decodeEmpty),
      ValidateJWTSVID: method("ValidateJWTSVID", false, decodeValidateJwtSvidRequest),
    } as unknown as grpc.ServiceDefinition,
    {
      FetchX509SVID: pushStream(x509Svid),
      FetchX509Bundles: pushStream(x509Bundles),
      FetchJWTSVID: unary<JwtSvidRequest>(fetchJwt),
      FetchJWTBundles: pushStream(jwtBundles),
      ValidateJWTSVID: unary<ValidateJwtSvidRequest>((req) => validateJwt(req)),
    } as unknown as grpc.UntypedServiceImplementation,
  );
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());

  const listener = net.createServer((sock) => {
    if (closing) {
      sock.destroy();
      return;
    }
    let peer: AttestedPeer;
    try {
      peer = attest(sock);
    } catch (e) {
      log.warn("workload attestation failed; connection closed", {
        error: e instanceof Error ? e.message : String(e),
      });
      sock.destroy();
      return;
    }
    const token = `${PEER_PREFIX}${++seq}`;
    peers.set(token, peer);
    sockets.add(sock);
    Object.defineProperty(sock, "remoteAddress", { value: token, configurable: true });
    sock.once("close", () => {
      peers.delete(token);
      sockets.delete(sock);
    });
    log.debug("workload connected", {
      pid: peer.attrs.unix.pid,
      uid: peer.attrs.unix.uid,
      gid: peer.attrs.unix.gid,
    });
    injector.injectConnection(sock);
  });

  // A stale socket from an earlier run is replaced; any other file at the path is an error.
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
    else throw new Error(`workload-identity-api: ${path} exists and is not a socket`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  await new Promise<void>((resolve, reject) => {
    listener.once("error", reject);
    listener.listen(path, () => {
      listener.off("error", reject);
      resolve();
    });
  });
  chmodSync(path, opts.socketMode ?? 0o777);
  log.info("Workload API listening", { path });

  return {
    path,
    openStreams: () => streams.size,
    async close() {
      if (closing) return;
      closing = true;
      // net.Server's close callback waits for every connection to end: ask first, await last.
      const listenerClosed = new Promise<void>((resolve) => listener.close(() => resolve()));
      for (const s of [...streams]) {
        s.emit("error", err(grpc.status.UNAVAILABLE, "the Workload API is shutting down"));
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2000);
        server.tryShutdown(() => {
          clearTimeout(t);
          resolve();
        });
      });
      injector.destroy();
      for (const s of sockets) s.destroy();
      await listenerClosed;
      try {
        unlinkSync(path);
      } catch {}
    },
  };
}
