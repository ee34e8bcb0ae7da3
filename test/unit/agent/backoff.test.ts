// Retrying: what counts as passing by itself, and how long to wait (the server's Retry-After
// wins over a shorter backoff, within a minute).

import { expect, test } from "bun:test";
import { backoffDelay, isTransient, retryDelay } from "../../../src/agent/backoff.ts";
import { RateLimitedError } from "../../../src/protocol/client.ts";
import { UserError } from "../../../src/util/errors.ts";

test("transient: unreachable, 5xx, 429, a raced join; never a denial or a bad request", () => {
  for (const code of ["connection_problem", "internal", "limit_exceeded", "compare_failed"] as const)
    expect(isTransient(new UserError("x", code))).toBe(true);
  for (const code of ["access_denied", "bad_parameter", "not_found", "already_exists"] as const)
    expect(isTransient(new UserError("x", code))).toBe(false);
  expect(isTransient(new Error("a bug"))).toBe(false);
});

test("backoff doubles from 1 s with jitter in [0.5, 1], up to the cap", () => {
  expect(backoffDelay(0, 5000, 1000, () => 1)).toBe(1000);
  expect(backoffDelay(2, 5000, 1000, () => 1)).toBe(4000);
  expect(backoffDelay(5, 5000, 1000, () => 1)).toBe(5000);
  expect(backoffDelay(5, 5000, 1000, () => 0)).toBe(2500);
});

test("a 429's Retry-After is honoured when longer than the backoff, and capped at a minute", () => {
  expect(retryDelay(new RateLimitedError("slow down", 30_000), 0, 5000)).toBe(30_000);
  expect(retryDelay(new RateLimitedError("slow down", 3_600_000), 0, 5000)).toBe(60_000);
  expect(retryDelay(new UserError("x", "internal"), 0, 5000)).toBeLessThanOrEqual(1000);
});
