// Shared assertion for config errors: one UserError, one line, and (when a place in the
// file is concerned) a "file:line:col: " prefix pointing at the right place.

import { expect } from "bun:test";
import { UserError } from "../../../src/util/errors.ts";

export function caught(fn: () => unknown): UserError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return e as UserError;
  }
  throw new Error("expected a UserError, but nothing was thrown");
}

export async function caughtAsync(fn: () => Promise<unknown>): Promise<UserError> {
  try {
    await fn();
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return e as UserError;
  }
  throw new Error("expected a UserError, but nothing was thrown");
}

/** Asserts a one-line message that starts with `prefix` and contains `needle`. */
export function expectMessage(e: UserError, prefix: string, needle: string): void {
  expect(e.message.split("\n")).toHaveLength(1);
  expect(e.message.slice(0, prefix.length)).toBe(prefix);
  expect(e.message).toContain(needle);
}
