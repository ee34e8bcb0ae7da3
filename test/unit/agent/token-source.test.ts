// Where the join token comes from and when a stored identity is kept (reference §1.1, §4.1):
// a token file deleted after its join is not a new token; a file whose content changed is.

import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { resolveTokenSource, tokenDecision } from "../../../src/agent/identity/acquire.ts";
import { tokenFileHash, tokenHash } from "../../../src/agent/identity/bot-identity.ts";

const dir = mkdtempSync(join(tmpdir(), "token-source-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("resolveTokenSource", () => {
  test("a value without a slash is the token itself, even when a file of that name exists", () => {
    expect(resolveTokenSource("abc123")).toEqual({ token: "abc123" });
    expect(resolveTokenSource(undefined)).toEqual({});
    expect(resolveTokenSource("")).toEqual({});
  });

  test("a path to an existing file gives its trimmed content and the file's absolute path", () => {
    const f = join(dir, "tok");
    writeFileSync(f, "  secret-token \n");
    expect(resolveTokenSource(f)).toEqual({ token: "secret-token", file: f });
  });

  test("a path that names no file is a literal token, marked as a missing file", () => {
    const f = join(dir, "gone");
    expect(resolveTokenSource(f)).toEqual({ token: f, missingFile: f });
    expect(resolveTokenSource("./nope/x")).toEqual({ token: "./nope/x", missingFile: resolve("./nope/x") });
  });
});

describe("tokenDecision", () => {
  const file = join(dir, "join-token");
  const joinedFromFile = { tokenHash: tokenHash("first"), tokenFile: tokenFileHash(file) };

  test("the token file deleted after the join: keep the identity (not a new token)", () => {
    expect(tokenDecision(joinedFromFile, { token: file, missingFile: file })).toBe("gone");
  });

  test("the same file with the same content: reuse; with new content: re-join", () => {
    expect(tokenDecision(joinedFromFile, { token: "first", file })).toBe("reuse");
    expect(tokenDecision(joinedFromFile, { token: "second", file })).toBe("rejoin");
  });

  test("another, missing path is a different (literal) token: re-join", () => {
    const other = join(dir, "other-token");
    expect(tokenDecision(joinedFromFile, { token: other, missingFile: other })).toBe("rejoin");
  });

  test("an identity joined with a literal token (no tokenfile): a missing path is still a new token", () => {
    const literal = { tokenHash: tokenHash("first") };
    expect(tokenDecision(literal, { token: file, missingFile: file })).toBe("rejoin");
    expect(tokenDecision(literal, { token: "first" })).toBe("reuse");
  });

  test("no token configured: reuse what is stored", () => {
    expect(tokenDecision(joinedFromFile, {})).toBe("reuse");
  });
});
