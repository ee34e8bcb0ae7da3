// tauth's metrics labels: denial reasons, outcomes and backend results come from a fixed set
// (error codes and tags), never from messages; the backend wrapper times every operation and
// counts conflicts; the instance gauge reads the backend at most every 15 s.

import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { SqliteBackend } from "../../../src/auth/backend/sqlite.ts";
import { HttpStatusError } from "../../../src/auth/http/server.ts";
import { instrumentBackend } from "../../../src/auth/metrics/backend.ts";
import {
  type AuthMetricsSink,
  type BackendOp,
  type BackendResult,
  backendResultOf,
  DENIAL_REASONS,
  denial,
  denialReason,
  outcomeOf,
} from "../../../src/auth/metrics/observer.ts";
import { createAuthMetrics } from "../../../src/auth/metrics/prom.ts";
import { accessDenied, badParameter, compareFailed, notFound, UserError } from "../../../src/util/errors.ts";
import { cleanupAfterFile, tempDir } from "../../harness/proc.ts";

cleanupAfterFile();

describe("denial reasons", () => {
  test("a tag wins; else access_denied and 429 by code; other errors are no denial", () => {
    expect(denialReason(denial(accessDenied("x is locked"), "locked"))).toBe("locked");
    expect(denialReason(accessDenied("anything at all, even 'locked' or 'generation'"))).toBe(
      "access_denied",
    );
    expect(denialReason(new UserError("too many", "limit_exceeded"))).toBe("rate_limited");
    // A body too large is limit_exceeded with 413: not a denial.
    expect(denialReason(new HttpStatusError("too large", "limit_exceeded", 413))).toBeUndefined();
    expect(denialReason(badParameter("bad"))).toBeUndefined();
    expect(denialReason(notFound("gone"))).toBeUndefined();
    expect(denialReason(new Error("boom"))).toBeUndefined();
    expect(denialReason("text")).toBeUndefined();
  });
  test("the reasons are a small fixed set of snake_case words", () => {
    expect(DENIAL_REASONS.length).toBeLessThanOrEqual(12);
    for (const r of DENIAL_REASONS) expect(r).toMatch(/^[a-z_]+$/);
  });
});

describe("outcomes", () => {
  test("by error code", () => {
    expect(outcomeOf()).toBe("ok");
    expect(outcomeOf(accessDenied("no"))).toBe("denied");
    expect(outcomeOf(notFound("no"))).toBe("denied");
    expect(outcomeOf(badParameter("no"))).toBe("invalid");
    expect(outcomeOf(compareFailed("no"))).toBe("conflict");
    expect(outcomeOf(new UserError("slow down", "limit_exceeded"))).toBe("rate_limited");
    expect(outcomeOf(new UserError("db down", "connection_problem"))).toBe("unavailable");
    expect(outcomeOf(new Error("bug"))).toBe("error");
  });
  test("backend results", () => {
    expect(backendResultOf()).toBe("ok");
    expect(backendResultOf(compareFailed("x"))).toBe("conflict");
    expect(backendResultOf(new UserError("x", "already_exists"))).toBe("conflict");
    expect(backendResultOf(notFound("x"))).toBe("not_found");
    expect(backendResultOf(new Error("disk"))).toBe("error");
  });
});

function recordingSink(): AuthMetricsSink & { ops: [BackendOp, BackendResult][] } {
  const ops: [BackendOp, BackendResult][] = [];
  return {
    ops,
    join() {},
    renewal() {},
    denied() {},
    request() {},
    issued() {},
    backend(op, result) {
      ops.push([op, result]);
    },
  };
}

describe("instrumented backend", () => {
  test("labels each operation, counts conflicts, passes results and errors on", async () => {
    const dir = tempDir("tauth-metrics-");
    const sink = recordingSink();
    const b = instrumentBackend(new SqliteBackend(join(dir, "t.db")), sink);
    const a = await b.create({ key: "/bot_instances/b/1", value: "{}" });
    await expect(b.create({ key: "/bot_instances/b/1", value: "{}" })).rejects.toThrow();
    await expect(b.compareAndSwap("wrong", { key: "/bot_instances/b/1", value: "{}" })).rejects.toThrow();
    await b.compareAndSwap(a.revision, { key: "/bot_instances/b/1", value: "{}" });
    await b.put({ key: "/bot_instances/b/2", value: "{}" });
    await b.put({ key: "/other/x", value: "{}" });
    expect((await b.get("/bot_instances/b/1"))?.key).toBe("/bot_instances/b/1");
    expect(await b.list("/bot_instances/")).toHaveLength(2);
    expect(await b.count!("/bot_instances/")).toBe(2);
    await expect(b.delete("/nope")).rejects.toThrow();
    expect(sink.ops).toEqual([
      ["create", "ok"],
      ["create", "conflict"],
      ["cas", "conflict"],
      ["cas", "ok"],
      ["put", "ok"],
      ["put", "ok"],
      ["get", "ok"],
      ["list", "ok"],
      ["count", "ok"],
      ["delete", "not_found"],
    ]);
    await b.close();
  });
});

describe("prometheus exposition", () => {
  test("counters by label; the instance gauge is cached for 15 s", async () => {
    let counted = 0;
    let now = 1_000_000;
    const m = createAuthMetrics({
      countInstances: async () => {
        counted++;
        return 42 + counted;
      },
      now: () => now,
    });
    m.sink.join("token", "ok");
    m.sink.join("token", "ok");
    m.sink.join("token", "denied");
    m.sink.renewal("token", "ok");
    m.sink.denied("bad_token");
    m.sink.request("/v1/join", "POST", 200, 0.01);
    m.sink.backend("cas", "conflict", 0.001);
    m.sink.issued("user", "tls");
    let { body } = await m.render();
    expect(body).toContain('tauth_joins_total{method="token",result="ok"} 2');
    expect(body).toContain('tauth_joins_total{method="token",result="denied"} 1');
    expect(body).toContain('tauth_renewals_total{method="token",result="ok"} 1');
    expect(body).toContain('tauth_denials_total{reason="bad_token"} 1');
    expect(body).toContain('tauth_backend_cas_conflicts_total{operation="cas"} 1');
    expect(body).toContain('tauth_certificates_issued_total{ca="user",kind="tls"} 1');
    expect(body).toContain(
      'tauth_http_request_duration_seconds_count{route="/v1/join",method="POST",code="200"} 1',
    );
    expect(body).toContain("tauth_bot_instances 43");
    now += 5_000;
    ({ body } = await m.render());
    expect(body).toContain("tauth_bot_instances 43");
    now += 15_000;
    ({ body } = await m.render());
    expect(body).toContain("tauth_bot_instances 44");
    expect(counted).toBe(2);
    for (const name of [
      "tauth_joins_total",
      "tauth_bot_instances",
      "tauth_backend_operation_duration_seconds",
    ]) {
      expect(body).toContain(`# HELP ${name} `);
      expect(body).toContain(`# TYPE ${name} `);
    }
  });
});
