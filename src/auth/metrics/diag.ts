// tauth's diagnostics listener (--diag-addr): plain HTTP, meant for loopback or a private
// network. /metrics (Prometheus text), /healthz (the process answers), /readyz (as the API's
// /readyz: the backend answers a read within 2 s). Off unless --diag-addr is set.

import { UserError } from "../../util/errors.ts";
import type { Route } from "../http/router.ts";
import type { AuthMetrics } from "./prom.ts";

export interface DiagServer {
  port: number;
  stop(): void;
}

export function startAuthDiag(host: string, port: number, metrics: AuthMetrics, readyz: Route): DiagServer {
  const server = Bun.serve({
    hostname: host,
    port,
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (req.method !== "GET") return new Response("method not allowed\n", { status: 405 });
      if (path === "/healthz") return new Response("OK\n");
      if (path === "/readyz") {
        try {
          return Response.json(await readyz.handle({} as never));
        } catch (e) {
          const status = e instanceof UserError ? e.httpStatus : 500;
          return Response.json({ error: { message: (e as Error).message } }, { status });
        }
      }
      if (path === "/metrics") {
        try {
          const { body, contentType } = await metrics.render();
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
