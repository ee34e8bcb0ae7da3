// How long an ssh_host node registration lasts: the host asks for three renewal intervals
// (at least 2 hours) and the server keeps it between 2 hours and 72 hours, so a host with a
// long renewal_interval stays listed between its renewals.

import { expect, test } from "bun:test";
import { registrationTtlSeconds } from "../../../src/agent/services/ssh-host/service.ts";
import { NODE_TTL_MAX_MS, NODE_TTL_MS, nodeTtlMs } from "../../../src/auth/nodes.ts";

const h = 3600_000;

test("the agent asks for max(2h, 3 x renewal_interval)", () => {
  expect(registrationTtlSeconds(20 * 60_000)).toBe(2 * 3600);
  expect(registrationTtlSeconds(h)).toBe(3 * 3600);
  expect(registrationTtlSeconds(3 * h)).toBe(9 * 3600);
});

test("the server gives 2h to a host that does not ask, and clamps what one asks to [2h, 72h]", () => {
  expect(NODE_TTL_MS).toBe(2 * h);
  expect(NODE_TTL_MAX_MS).toBe(72 * h);
  expect(nodeTtlMs(undefined)).toBe(2 * h);
  expect(nodeTtlMs(60)).toBe(2 * h);
  expect(nodeTtlMs(9 * 3600)).toBe(9 * h);
  expect(nodeTtlMs(365 * 86400)).toBe(72 * h);
});

test("a renewal interval over 2 hours outlives its renewals", () => {
  for (const interval of [2.5 * h, 6 * h, 24 * h])
    expect(nodeTtlMs(registrationTtlSeconds(interval))).toBeGreaterThan(interval);
});
