// Audit truncation, the join rate limiter (token bucket, Retry-After, aggregate audit) and
// TAUTH_LIMITS parsing.

import { describe, expect, test } from "bun:test";
import { auditLine, boundAuditValue, MAX_AUDIT_STRING } from "../../../src/auth/audit.ts";
import { addressGroup, normalizeIp } from "../../../src/auth/http/connections.ts";
import { DEFAULT_LIMITS, parseLimits } from "../../../src/auth/http/limits.ts";
import { JoinRateLimiter } from "../../../src/auth/http/rate-limit.ts";

describe("audit lines are bounded", () => {
  test("a 1 MiB token name becomes 256 characters and a marker", () => {
    const line = auditLine("bot.join.failed", { token: "a".repeat(1 << 20), remote_addr: "1.2.3.4:5" });
    expect(line.length).toBeLessThan(600);
    const parsed = JSON.parse(line);
    expect(parsed.token).toBe(`${"a".repeat(256)}…[truncated ${(1 << 20) - 256} chars]`);
    expect(parsed.remote_addr).toBe("1.2.3.4:5");
    expect(parsed.event).toBe("bot.join.failed");
  });
  test("strings of exactly 256 characters are kept whole", () => {
    expect(boundAuditValue("b".repeat(MAX_AUDIT_STRING))).toBe("b".repeat(256));
  });
  test("nested objects, arrays and keys are bounded too", () => {
    const v = boundAuditValue(
      { target: { bot: "x".repeat(300) }, list: Array(100).fill("y"), ["k".repeat(300)]: 1 },
      -1,
    ) as Record<string, unknown>;
    expect((v.target as Record<string, string>).bot).toBe(`${"x".repeat(256)}…[truncated 44 chars]`);
    expect((v.list as string[]).length).toBe(33);
    expect((v.list as string[])[32]).toBe("…[truncated 68 entries]");
    expect(Object.keys(v)).toContain(`${"k".repeat(256)}…[truncated 44 chars]`);
    let deep: unknown = "leaf";
    for (let i = 0; i < 50; i++) deep = { d: deep };
    expect(auditLine("e", { deep }).length).toBeLessThan(200);
  });
});

describe("join rate limiter", () => {
  const sink = () => {
    const lines: { event: string; fields: Record<string, unknown> }[] = [];
    return { lines, emit: (event: string, fields: Record<string, unknown>) => lines.push({ event, fields }) };
  };

  test("burst, then 429 with Retry-After, refilled at the rate; per address", () => {
    let now = 0;
    const audit = sink();
    const l = new JoinRateLimiter(2, 5, audit, 60_000, () => now);
    for (let i = 0; i < 5; i++) expect(l.take("10.0.0.1")).toBe(0);
    expect(l.take("10.0.0.1")).toBe(1); // 1 token at 2/s: half a second, rounded up
    expect(l.take("10.0.0.2")).toBe(0); // another address has its own bucket
    now += 500;
    expect(l.take("10.0.0.1")).toBe(0);
    expect(l.take("10.0.0.1")).toBe(1);
    now += 10_000;
    for (let i = 0; i < 5; i++) expect(l.take("10.0.0.1")).toBe(0); // refilled to the burst, not beyond
    expect(l.take("10.0.0.1")).toBe(1);
    l.close();
  });

  test("Retry-After in whole seconds for slow rates", () => {
    let now = 0;
    const l = new JoinRateLimiter(0.1, 1, sink(), 60_000, () => now);
    expect(l.take("a")).toBe(0);
    expect(l.take("a")).toBe(10);
    now += 5000;
    expect(l.take("a")).toBe(5);
    l.close();
  });

  test("refusals are audited as one line per address per window", () => {
    const audit = sink();
    const l = new JoinRateLimiter(1, 1, audit, 60_000, () => 0);
    l.take("a");
    for (let i = 0; i < 1000; i++) l.take("a");
    l.take("b");
    l.take("b");
    expect(audit.lines).toEqual([]);
    l.flush();
    expect(audit.lines.map((x) => [x.event, x.fields.remote_ip, x.fields.refused])).toEqual([
      ["join.rate_limited", "a", 1000],
      ["join.rate_limited", "b", 1],
    ]);
    l.flush();
    expect(audit.lines.length).toBe(2); // nothing new, nothing written
    l.close();
  });

  test("rate 0 disables the limiter", () => {
    const l = new JoinRateLimiter(0, 0, sink(), 60_000);
    for (let i = 0; i < 100; i++) expect(l.take("a")).toBe(0);
    l.close();
  });
});

describe("TAUTH_LIMITS", () => {
  test("defaults", () => {
    expect(parseLimits(undefined)).toEqual(DEFAULT_LIMITS);
    expect(DEFAULT_LIMITS).toMatchObject({
      joinRate: 10,
      joinBurst: 20,
      connsPerIp: 64,
      headerTimeoutMs: 10_000,
      bodyTimeoutMs: 30_000,
    });
  });
  test("key=value pairs, durations and off", () => {
    expect(
      parseLimits(
        "join_rate=1000, join_burst=2000,conns_per_ip=off,header_timeout=2s,rate_audit_window=500ms",
      ),
    ).toMatchObject({
      joinRate: 1000,
      joinBurst: 2000,
      connsPerIp: 0,
      headerTimeoutMs: 2000,
      rateAuditWindowMs: 500,
    });
  });
  test("mistakes are errors", () => {
    expect(() => parseLimits("join_rat=5")).toThrow('TAUTH_LIMITS: "join_rat=5" is not one of');
    expect(() => parseLimits("header_timeout=10")).toThrow("header_timeout=10 is not a valid duration");
    expect(() => parseLimits("conns_per_ip=1.5")).toThrow("conns_per_ip=1.5 is not a valid number");
  });
});

describe("per-address limits count IPv4 addresses and IPv6 /64s", () => {
  test("grouping", () => {
    expect(addressGroup(normalizeIp("::ffff:10.1.2.3"))).toBe("10.1.2.3");
    expect(addressGroup("192.0.2.7")).toBe("192.0.2.7");
    expect(addressGroup("2001:db8:1:2:aaaa:bbbb:cccc:dddd")).toBe("2001:db8:1:2::/64");
    expect(addressGroup("2001:db8:1:2::1")).toBe("2001:db8:1:2::/64");
    expect(addressGroup("2001:0db8:0001:0002:ffff::9")).toBe("2001:db8:1:2::/64");
    expect(addressGroup("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(addressGroup("::1")).toBe("0:0:0:0::/64");
    expect(addressGroup("fe80::1%eth0")).toBe("fe80:0:0:0::/64");
  });
});
