// `tbot wait` against a real diagnostics listener (src/agent/diag.ts): ready when /readyz is
// healthy, a clear error for an unknown service, and a timeout naming what was last seen.

import { afterAll, expect, test } from "bun:test";
import { startDiagServer } from "../../../src/agent/diag.ts";
import { Health } from "../../../src/agent/health.ts";
import { createMetrics } from "../../../src/agent/metrics.ts";
import { waitReady } from "../../../src/agent/wait.ts";
import { UserError } from "../../../src/util/errors.ts";
import { freePort } from "../../harness/proc.ts";

const stops: (() => void)[] = [];
afterAll(() => {
  for (const s of stops) s();
});

async function diag(health: Health): Promise<string> {
  const addr = `127.0.0.1:${await freePort()}`;
  stops.push(startDiagServer(addr, health, createMetrics(), false).stop);
  return addr;
}

test("returns once /readyz turns healthy, waiting through initializing", async () => {
  const h = new Health();
  h.register("identity");
  h.register("out");
  const addr = await diag(h);
  const waiting = waitReady({ diagAddr: addr, intervalMs: 20 });
  h.set("identity", "healthy");
  h.set("out", "healthy");
  expect(await waiting).toBe(`tbot is ready (http://${addr}/readyz)`);
});

test("--service waits for that service only", async () => {
  const h = new Health();
  h.register("identity");
  h.register("out");
  h.set("out", "healthy");
  const addr = await diag(h);
  expect(await waitReady({ diagAddr: addr, service: "out", intervalMs: 20 })).toContain(
    'service "out" is ready',
  );
});

test("an unknown service is an error at once, not a wait", async () => {
  const h = new Health();
  h.register("identity");
  const addr = await diag(h);
  const e = await waitReady({ diagAddr: addr, service: "nope" }).catch((x) => x);
  expect(e).toBeInstanceOf(UserError);
  expect(e.message).toContain('has no service named "nope"');
});

test("gives up after the timeout with the last status and reasons", async () => {
  const h = new Health();
  h.register("identity");
  h.set("identity", "unhealthy", "join denied");
  const addr = await diag(h);
  const e = await waitReady({ diagAddr: addr, timeoutMs: 300, intervalMs: 20 }).catch((x) => x);
  expect(e).toBeInstanceOf(UserError);
  expect(e.message).toBe(
    "tbot was not ready after 300ms; last: status unhealthy (identity: unhealthy, join denied)",
  );
});

test("nothing listening: keeps trying until the timeout, then says nothing listens there", async () => {
  const addr = `127.0.0.1:${await freePort()}`;
  const e = await waitReady({ diagAddr: addr, timeoutMs: 100, intervalMs: 20 }).catch((x) => x);
  expect(e).toBeInstanceOf(UserError);
  expect(e.message).toContain(`nothing listens at ${addr}`);
});
