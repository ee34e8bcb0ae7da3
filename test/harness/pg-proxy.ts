// A TCP proxy in front of PostgreSQL that can lose one reply: once the client has sent, on
// one connection, packets containing each of the armed markers in turn (e.g. a value the
// statement binds, then "COMMIT"), the server's messages are dropped up to and including the
// next ReadyForQuery ('Z': sent only after the server has finished, and committed, what came
// before the Sync), and both sides are cut. The server has done the work; the client never
// hears it — a lost COMMIT acknowledgement, made on demand. One cut per arming. The server
// side is framed by message (type byte, int32 length), so it must be plaintext (no TLS).

import { connect, createServer, type Server, type Socket } from "node:net";

export interface PgProxy {
  port: number;
  /** Cut the reply after packets containing these markers (in order) pass on one connection. */
  cutReplyAfter(...markers: string[]): void;
  /** How many replies were cut so far. */
  cuts(): number;
  close(): Promise<void>;
}

export async function startPgProxy(upstreamPort: number): Promise<PgProxy> {
  let armed: string[] | null = null;
  let arming = 0;
  let cuts = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(upstreamPort, "127.0.0.1");
    sockets.add(client).add(upstream);
    // Progress through the armed markers on this connection; a rolling tail finds a marker
    // split between two packets.
    let next = 0;
    let seenArming = arming;
    let tail = "";
    let doomed = false;
    client.on("data", (d) => {
      const text = tail + d.toString("latin1");
      if (seenArming !== arming) {
        seenArming = arming;
        next = 0;
      }
      if (armed && !doomed) {
        // Only matches that end in the new bytes count (the tail was searched already).
        let from = Math.max(0, tail.length - ((armed[next]?.length ?? 1) - 1));
        while (next < armed.length) {
          const at = text.indexOf(armed[next]!, from);
          if (at < 0) break;
          from = at + armed[next]!.length;
          next++;
        }
        if (next === armed.length) {
          doomed = true;
          armed = null;
        }
      }
      tail = text.slice(-64);
      upstream.write(d);
    });
    // Server messages, framed; before authentication ends they are framed the same way.
    let pending = Buffer.alloc(0);
    upstream.on("data", (d: Buffer) => {
      pending = Buffer.concat([pending, d]);
      while (pending.length >= 5) {
        const len = 1 + pending.readInt32BE(1);
        if (pending.length < len) break;
        const msg = pending.subarray(0, len);
        pending = pending.subarray(len);
        if (!doomed) {
          client.write(msg);
        } else if (msg[0] === 0x5a) {
          cuts++;
          client.destroy();
          upstream.destroy();
          return;
        }
      }
    });
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("close", drop).on("error", drop);
    upstream.on("close", drop).on("error", drop);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const addr = server.address();
  return {
    port: typeof addr === "object" && addr ? addr.port : 0,
    cutReplyAfter(...markers) {
      armed = markers;
      arming++;
    },
    cuts: () => cuts,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
