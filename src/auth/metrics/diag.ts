// tauth's diagnostics listener (--diag-addr): plain HTTP, meant for loopback or a private
// network. /metrics (Prometheus text), /healthz (the process answers), /readyz (ready to serve:
// in a single process, the API's /readyz, i.e. the backend answers a read within 2 s; in a
// primary of workers, every worker is up). Off unless --diag-addr is set.

import { UserError } from "../../util/errors.ts";

export interface DiagServer {
  port: number;
  stop(): void;
}

export interface DiagSource {
  /** The exposition text and its content type. */
  render(): Promise<{ body: string; contentType: string }>;
  /** Resolves to the /readyz body when ready; throws (a UserError's status, else 500) when not. */
  ready(): Promise<unknown>;
}

export function startAuthDiag(host: string, port: number, src: DiagSource): DiagServer {
  const server = Bun.serve({
    hostname: host,
    port,
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (req.method !== "GET") return new Response("method not allowed\n", { status: 405 });
      if (path === "/healthz") return new Response("OK\n");
      if (path === "/readyz") {
        try {
          return Response.json(await src.ready());
        } catch (e) {
          const status = e instanceof UserError ? e.httpStatus : 500;
          return Response.json({ error: { message: (e as Error).message } }, { status });
        }
      }
      if (path === "/metrics") {
        try {
          const { body, contentType } = await src.render();
          return new Response(body, { headers: { "content-type": contentType } });
        } catch (e) {
          return new Response(`metrics: ${(e as Error).message}\n`, { status: 500 });
        }
      }
      return new Response("not found\n", { status: 404 });
    },
  });
  return { port: server.port ?? port, stop: () => server.stop(true) };
}
