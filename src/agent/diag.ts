// The diagnostics listener (reference §11.1): /livez, /readyz[/<service>], /metrics.
// Plain HTTP, meant for localhost.

import { requireHostPort } from "../util/host-port.ts";
import type { Health } from "./health.ts";

export function startDiagServer(addr: string, health: Health, _debug: boolean): { stop(): void } {
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
      if (path === "/metrics") {
        const snap = health.snapshot();
        const lines = [
          "# HELP tbot_service_healthy Whether a service's last iteration succeeded.",
          "# TYPE tbot_service_healthy gauge",
        ];
        for (const [name, s] of Object.entries(snap.services))
          lines.push(`tbot_service_healthy{name="${name}"} ${s.status === "healthy" ? 1 : 0}`);
        const execs = health.execCounts();
        if (execs.length > 0) {
          lines.push(
            "# HELP tbot_output_exec_total Runs of an output's exec hook, by output and result (ok, failed, timeout).",
            "# TYPE tbot_output_exec_total counter",
          );
          for (const [name, result, n] of execs)
            lines.push(`tbot_output_exec_total{name="${name}",result="${result}"} ${n}`);
        }
        lines.push(`process_resident_memory_bytes ${process.memoryUsage().rss}`);
        return new Response(`${lines.join("\n")}\n`, {
          headers: { "content-type": "text/plain; version=0.0.4" },
        });
      }
      return new Response("not found\n", { status: 404 });
    },
  });
  return { stop: () => server.stop(true) };
}
