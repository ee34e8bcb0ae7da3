// Connection bounds for the HTTPS listener: a cap on concurrent TCP connections per source IP,
// and deadlines that a slow client cannot stretch by trickling bytes (the socket idle timeout
// alone is reset by every byte):
//  - a new connection must complete TLS and deliver a request's headers within
//    headerTimeoutMs of opening;
//  - a connection with no request in progress is closed idleTimeoutMs after its last response
//    (the wait for the next request's headers), whatever it sends meanwhile;
//  - the body deadline is per request (server.ts, readBody).
// Connections are tracked from the server's "connection" event (the TCP socket, before TLS).
// Requests are matched to them by remote address and port: on Bun's node:http2 an HTTP/2
// request's socket is a proxy object, not the connection's socket, but it has the same
// address and port, and an address:port pair names one live TCP connection.

import type { Socket } from "node:net";
import { logger } from "../../util/log.ts";
import type { ServerLimits } from "./limits.ts";

const log = logger("AUTH:HTTP");

interface Conn {
  ip: string;
  socket: Socket;
  active: number;
  timer?: ReturnType<typeof setTimeout>;
}

/** "::ffff:127.0.0.1" → "127.0.0.1": one address, one bucket, however the stack spells it. */
export function normalizeIp(addr: string | undefined): string {
  if (!addr) return "?";
  return addr.startsWith("::ffff:") && addr.includes(".") ? addr.slice(7) : addr;
}

/**
 * What per-address limits count: an IPv4 address, or an IPv6 address's /64 (one host or
 * site usually holds a whole /64, so per-address limits would be trivially sidestepped).
 */
export function addressGroup(ip: string): string {
  if (!ip.includes(":")) return ip;
  const [head = "", tail] = ip.split("%")[0]!.split("::");
  const h = head ? head.split(":") : [];
  const t = tail !== undefined && tail !== "" ? tail.split(":") : [];
  const full =
    tail === undefined ? h : [...h, ...Array(Math.max(0, 8 - h.length - t.length)).fill("0"), ...t];
  return `${full
    .slice(0, 4)
    .map((x) => (Number.parseInt(x || "0", 16) || 0).toString(16))
    .join(":")}::/64`;
}

export const connectionKey = (addr: string | undefined, port: number | undefined) =>
  `${normalizeIp(addr)}|${port ?? 0}`;

export class ConnectionGuard {
  private readonly perIp = new Map<string, number>();
  private readonly conns = new Map<string, Conn>();
  /** Connections refused over the per-address cap since the last log line, by address. */
  private refused = new Map<string, number>();
  private lastRefusalLog = 0;

  constructor(private readonly limits: ServerLimits) {}

  /** Call from the server's "connection" event. */
  onConnection(socket: Socket): void {
    const ip = addressGroup(normalizeIp(socket.remoteAddress));
    const key = connectionKey(socket.remoteAddress, socket.remotePort);
    const n = (this.perIp.get(ip) ?? 0) + 1;
    if (this.limits.connsPerIp > 0 && n > this.limits.connsPerIp) {
      socket.destroy();
      this.noteRefusal(ip);
      return;
    }
    this.perIp.set(ip, n);
    const conn: Conn = { ip, socket, active: 0 };
    this.conns.set(key, conn);
    this.arm(conn, this.limits.headerTimeoutMs, "no request headers within the header deadline");
    socket.once("close", () => {
      if (conn.timer) clearTimeout(conn.timer);
      if (this.conns.get(key) === conn) this.conns.delete(key);
      const left = (this.perIp.get(ip) ?? 1) - 1;
      if (left > 0) this.perIp.set(ip, left);
      else this.perIp.delete(ip);
    });
  }

  /**
   * A request's headers arrived on the connection at addr:port. Returns the function to call
   * when its response is done (or the request aborted).
   */
  requestStarted(addr: string | undefined, port: number | undefined): () => void {
    const conn = this.conns.get(connectionKey(addr, port));
    if (!conn) return () => {};
    conn.active++;
    if (conn.timer) clearTimeout(conn.timer);
    conn.timer = undefined;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (--conn.active === 0 && !conn.socket.destroyed)
        this.arm(conn, this.limits.idleTimeoutMs, "no new request within the idle timeout");
    };
  }

  /** Close the connection at addr:port (a request left its body unread). */
  closeLater(addr: string | undefined, port: number | undefined, graceMs: number): void {
    const conn = this.conns.get(connectionKey(addr, port));
    if (!conn) return;
    const t = setTimeout(() => conn.socket.destroy(), graceMs);
    t.unref?.();
  }

  /** Open connections from `ip` (tests, diagnostics). */
  count(ip: string): number {
    return this.perIp.get(ip) ?? 0;
  }

  private arm(conn: Conn, ms: number, why: string): void {
    if (conn.timer) clearTimeout(conn.timer);
    if (ms <= 0) return;
    conn.timer = setTimeout(() => {
      log.debug("closing connection", { remote_ip: conn.ip, reason: why });
      conn.socket.destroy();
    }, ms);
    conn.timer.unref?.();
  }

  private noteRefusal(ip: string): void {
    this.refused.set(ip, (this.refused.get(ip) ?? 0) + 1);
    const now = Date.now();
    if (now - this.lastRefusalLog < 60_000) return;
    this.lastRefusalLog = now;
    for (const [addr, count] of this.refused)
      log.warn("connections refused: too many open from one address", {
        remote_ip: addr,
        refused: count,
        cap: this.limits.connsPerIp,
      });
    this.refused = new Map();
  }
}
