// /readyz on the diagnostics listener (reference §11.1): the aggregate's JSON shape and status
// codes, one service with its failure reason, 404 for an unknown name, and /metrics served.

import { afterAll, expect, test } from "bun:test";
import { startDiagServer } from "../../../src/agent/diag.ts";
import { Health } from "../../../src/agent/health.ts";
import { createMetrics } from "../../../src/agent/metrics.ts";
import { freePort } from "../../harness/proc.ts";

const stops: (() => void)[] = [];
afterAll(() => {
  for (const s of stops) s();
});

async function serve(h: Health): Promise<string> {
  const port = await freePort();
  stops.push(startDiagServer(`127.0.0.1:${port}`, h, createMetrics(), false).stop);
  return `http://127.0.0.1:${port}`;
}

test("overall: initializing (503) until every service reported, healthy (200), unhealthy (503) with reasons", async () => {
  const h = new Health();
  h.register("identity");
  h.register("web");
  h.register("db");
  const base = await serve(h);
  let r = await fetch(`${base}/readyz`);
  expect(r.status).toBe(503);
  expect(r.headers.get("content-type")).toContain("application/json");
  expect(await r.json()).toEqual({
    status: "initializing",
    services: {
      identity: { status: "initializing" },
      web: { status: "initializing" },
      db: { status: "initializing" },
    },
  });
  for (const n of ["identity", "web", "db"]) h.set(n, "healthy");
  r = await fetch(`${base}/readyz`);
  expect(r.status).toBe(200);
  expect(await r.json()).toEqual({
    status: "healthy",
    services: { identity: { status: "healthy" }, web: { status: "healthy" }, db: { status: "healthy" } },
  });
  h.set("db", "unhealthy", "access denied: role db-access was removed");
  r = await fetch(`${base}/readyz`);
  expect(r.status).toBe(503);
  expect(await r.json()).toEqual({
    status: "unhealthy",
    services: {
      identity: { status: "healthy" },
      web: { status: "healthy" },
      db: { status: "unhealthy", reason: "access denied: role db-access was removed" },
    },
  });
  // Unhealthy wins over initializing.
  h.register("late");
  expect(((await (await fetch(`${base}/readyz`)).json()) as { status: string }).status).toBe("unhealthy");
});

test("/readyz/<service>: its status and reason, 200 only when healthy, 404 for an unknown name", async () => {
  const h = new Health();
  h.register("identity");
  h.register("my out");
  h.set("identity", "healthy");
  h.set("my out", "unhealthy", `x${"y".repeat(400)}`);
  const base = await serve(h);
  const ok = await fetch(`${base}/readyz/identity`);
  expect(ok.status).toBe(200);
  expect(await ok.json()).toEqual({ status: "healthy" });
  const bad = await fetch(`${base}/readyz/my%20out`);
  expect(bad.status).toBe(503);
  const body = (await bad.json()) as { status: string; reason: string };
  expect(body.status).toBe("unhealthy");
  expect(body.reason).toHaveLength(256); // reasons are cut to 256 characters
  const none = await fetch(`${base}/readyz/nope`);
  expect(none.status).toBe(404);
  expect((await fetch(`${base}/livez`)).status).toBe(200);
  const m = await fetch(`${base}/metrics`);
  expect(m.status).toBe(200);
  expect(await m.text()).toContain('tbot_service_healthy{name="my out"} 0');
});
