// The diagnostics listener (reference §11.1): /livez, /readyz[/<service>], /metrics.
// Plain HTTP, meant for localhost. /metrics is prom-client's exposition (src/agent/metrics.ts).

import { requireHostPort } from "../util/host-port.ts";
import type { Health } from "./health.ts";
import type { Metrics } from "./metrics.ts";

export function startDiagServer(
  addr: string,
  health: Health,
  metrics: Metrics,
  _debug: boolean,
): { stop(): void } {
  metrics.attach(health);
  // Port 0 (any free port) is allowed here as it is in the config (see config/decode.ts).
  const hp = requireHostPort(addr, "diag_addr", { allowPortZero: true });
  const server = Bun.serve({
    hostname: hp.host,
    port: hp.port,
    fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/livez") return new Response("OK");
      if (path === "/readyz") {
        const snap = health.snapshot();
        return Response.json(snap, { status: snap.status === "healthy" ? 200 : 503 });
      }
      if (path.startsWith("/readyz/")) {
        const s = health.get(decodeURIComponent(path.slice("/readyz/".length)));
        if (!s) return Response.json({ error: "no such service" }, { status: 404 });
        return Response.json(s, { status: s.status === "healthy" ? 200 : 503 });
      }
      if (path === "/metrics")
        return metrics.render().then(
          ({ body, contentType }) => new Response(body, { headers: { "content-type": contentType } }),
          (e) => new Response(`metrics: ${(e as Error).message}\n`, { status: 500 }),
        );
      return new Response("not found\n", { status: 404 });
    },
  });
  return { stop: () => server.stop(true) };
}
