import { describe, expect, test } from "bun:test";
import { outboundFetcher } from "../../../src/auth/outbound-fetch.ts";
import { passThroughSpecKeys, tokenSpecKeys } from "../../../src/auth/resources/token-vocabulary.ts";
import { joinMethods } from "../../../src/join/methods.ts";
import {
  implementedJoinMethod,
  joinMethodRegistry,
  onboardingBlocks,
  tokenSpecBlocks,
} from "../../../src/join/registry.ts";

describe("join method registry", () => {
  test("every implemented method is one the reference documents, listed once", () => {
    const names = joinMethodRegistry.map((m) => m.name);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(joinMethods as readonly string[]).toContain(name);
    expect(names.slice(0, 3)).toEqual(["token", "bound_keypair", "tpm"]);
    expect(names).toEqual(expect.arrayContaining(["github", "gitlab", "kubernetes", "iam"]));
  });

  test("a method's token-spec block is read by it, never passed through", () => {
    for (const { block } of tokenSpecBlocks) {
      expect(passThroughSpecKeys).not.toContain(block.key);
      expect(tokenSpecKeys).toContain(block.key);
    }
  });

  test("onboarding blocks have distinct keys and fields", () => {
    const keys = onboardingBlocks.map(({ block }) => block.key);
    const fields = onboardingBlocks.map(({ block }) => block.field);
    expect(new Set(keys).size).toBe(keys.length);
    expect(new Set(fields).size).toBe(fields.length);
  });

  test("renewable only for the token method", () => {
    expect(implementedJoinMethod("token")?.renewable).toBe(true);
    expect(implementedJoinMethod("bound_keypair")?.renewable).toBe(false);
    expect(implementedJoinMethod("tpm")?.renewable).toBe(false);
    expect(implementedJoinMethod("iam")?.renewable).toBe(false);
    for (const m of ["github", "gitlab", "kubernetes"])
      expect(implementedJoinMethod(m)?.renewable).toBe(false);
  });

  test("server and client halves load on demand and name their method", async () => {
    for (const m of joinMethodRegistry) expect((await m.server()).method).toBe(m.name);
  });
});

describe("outbound fetcher", () => {
  test("an unreadable SSL_CERT_FILE fails the first request, not the construction", async () => {
    const fetcher = outboundFetcher({ SSL_CERT_FILE: "/nonexistent/bundle.pem" });
    await expect(fetcher("https://127.0.0.1:1/")).rejects.toThrow(
      "SSL_CERT_FILE=/nonexistent/bundle.pem cannot be read",
    );
  });
});
