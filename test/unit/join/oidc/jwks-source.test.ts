// Key sources: the per-issuer cache (hit, TTL, stale use while the issuer is down, one flight
// at a time), discovery checks, the fetch limits (size, time, redirects, non-JSON), pinned
// sets and the production fetcher's trust roots.

import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultFetcher } from "../../../../src/join/oidc/fetch-json.ts";
import { parseJwks } from "../../../../src/join/oidc/jwks.ts";
import { IssuerKeyCache, staticJwksSource } from "../../../../src/join/oidc/jwks-source.ts";
import { UserError } from "../../../../src/util/errors.ts";
import { FakeIssuer, ISSUER, makeKey, NOW_MS, type TestKey } from "./issuer-fixture.ts";

let rsa: TestKey;
let issuer: FakeIssuer;
let clockMs: number;

beforeEach(async () => {
  rsa ??= await makeKey("RS256", "rsa-1");
  issuer = new FakeIssuer();
  issuer.keys = [rsa.publicJwk];
  clockMs = NOW_MS;
});

function cache(extra: ConstructorParameters<typeof IssuerKeyCache>[0] = {}) {
  return new IssuerKeyCache({ fetcher: issuer.fetcher, now: () => clockMs, ...extra });
}

async function failure(p: Promise<unknown>): Promise<UserError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    expect((e as Error).message).not.toContain("\n");
    return e as UserError;
  }
  throw new Error("expected a failure");
}

describe("cache", () => {
  test("one discovery and one JWKS fetch serve later lookups until the TTL", async () => {
    const src = cache({ ttlMs: 60_000 }).forIssuer(ISSUER);
    expect((await src.keys()).map((k) => k.kid)).toEqual(["rsa-1"]);
    await src.keys();
    clockMs += 59_000;
    await src.keys();
    expect(issuer.calls).toEqual([`${ISSUER}/.well-known/openid-configuration`, `${ISSUER}/keys`]);
    clockMs += 2_000;
    await src.keys();
    expect(issuer.jwksFetches).toBe(2);
  });

  test("concurrent lookups share one flight", async () => {
    const src = cache().forIssuer(ISSUER);
    await Promise.all([src.keys(), src.keys(), src.keys(), src.refreshForUnknownKid()]);
    expect(issuer.jwksFetches).toBe(1);
  });

  test("unknown-kid refreshes: none right after a fetch, then at most one per interval", async () => {
    const src = cache({ unknownKidRefreshIntervalMs: 30_000 }).forIssuer(ISSUER);
    await src.keys();
    expect(await src.refreshForUnknownKid()).toBeNull(); // the set is seconds old
    clockMs += 30_000;
    expect(await src.refreshForUnknownKid()).not.toBeNull();
    for (let i = 0; i < 50; i++) expect(await src.refreshForUnknownKid()).toBeNull();
    expect(issuer.jwksFetches).toBe(2);
    clockMs += 30_000;
    expect(await src.refreshForUnknownKid()).not.toBeNull();
    expect(issuer.jwksFetches).toBe(3);
  });

  test("issuers are cached apart, and the oldest goes past maxIssuers", async () => {
    const c = cache({ maxIssuers: 1 });
    await c.forIssuer(ISSUER).keys();
    await failure(c.forIssuer("https://second.test").keys()); // 404 from the fake: not cached
    await c.forIssuer(ISSUER).keys();
    expect(issuer.jwksFetches).toBe(2);
  });

  test("an issuer down after the TTL: the cached set is still used, up to maxStale", async () => {
    const src = cache({ ttlMs: 60_000, maxStaleMs: 600_000, failureBackoffMs: 1_000 }).forIssuer(ISSUER);
    await src.keys();
    issuer.jwks = "down";
    clockMs += 120_000;
    expect((await src.keys()).length).toBe(1);
    clockMs += 600_000;
    const e = await failure(src.keys());
    expect(e.code).toBe("connection_problem");
    expect(e.message).toStartWith(`cannot reach issuer ${ISSUER}: `);
  });

  test("a failure is remembered for the backoff instead of fetched again per join", async () => {
    issuer.jwks = "down";
    const src = cache({ failureBackoffMs: 5_000 }).forIssuer(ISSUER);
    await failure(src.keys());
    await failure(src.keys());
    await failure(src.keys());
    expect(issuer.jwksFetches).toBe(1);
    issuer.jwks = "ok";
    clockMs += 5_000;
    await src.keys();
    expect(issuer.jwksFetches).toBe(2);
  });
});

describe("discovery and fetch limits", () => {
  const cases: [string, () => void, string][] = [
    ["JWKS endpoint down", () => (issuer.jwks = "down"), "connection to issuer.test refused"],
    ["discovery down", () => (issuer.discovery = "down"), "refused"],
    ["HTTP 500", () => (issuer.jwks = "http500"), "answered HTTP 500"],
    ["a redirect", () => (issuer.discovery = "redirect"), "HTTP 302 (redirects are not followed)"],
    ["not JSON", () => (issuer.jwks = "notJson"), "did not answer with JSON"],
    ["an oversized JWKS (streamed)", () => (issuer.jwks = "huge"), "more than the 65536 bytes accepted"],
    [
      "an oversized JWKS (declared)",
      () => (issuer.jwks = "hugeDeclared"),
      "10485760 bytes, more than the 65536",
    ],
    ["an http:// jwks_uri", () => (issuer.jwksUri = "http://issuer.test/keys"), "no https:// jwks_uri"],
    ["a JWKS without keys", () => (issuer.keys = undefined as never), '"keys" array'],
  ];
  for (const [name, arrange, reason] of cases)
    test(`${name}: cannot reach issuer, with the reason`, async () => {
      arrange();
      const e = await failure(cache().forIssuer(ISSUER).keys());
      expect(e.code).toBe("connection_problem");
      expect(e.message).toStartWith(`cannot reach issuer ${ISSUER}: `);
      expect(e.message).toContain(reason);
    });

  test("a stalled issuer is cut at the deadline", async () => {
    issuer.jwks = "stall";
    const t0 = performance.now();
    const e = await failure(cache({ timeoutMs: 150 }).forIssuer(ISSUER).keys());
    expect(e.message).toContain("did not answer within 150 ms");
    expect(performance.now() - t0).toBeLessThan(2_000);
  });

  test("the discovery document must name the configured issuer exactly", async () => {
    for (const other of ["https://issuer.test/", "https://ISSUER.test", "https://evil.test"]) {
      issuer.discoveryIssuer = other;
      const e = await failure(cache().forIssuer(ISSUER).keys());
      expect(e.code).toBe("access_denied");
      expect(e.message).toContain(JSON.stringify(other));
      expect(e.message).toContain("must be the same exactly");
    }
    expect(issuer.jwksFetches).toBe(0);
  });

  test("requests go out as GET, JSON, manual redirects, with an abort signal", async () => {
    await cache().forIssuer(ISSUER).keys();
    expect(issuer.lastInit?.method).toBe("GET");
    expect(issuer.lastInit?.redirect).toBe("manual");
    expect(issuer.lastInit?.signal).toBeInstanceOf(AbortSignal);
  });
});

describe("key sets", () => {
  test("only public signature keys are kept", () => {
    const keys = parseJwks(
      {
        keys: [
          rsa.publicJwk,
          { kty: "oct", k: "c2VjcmV0", kid: "hmac" },
          { ...rsa.publicJwk, kid: "private", d: "AAAA" },
          { ...rsa.publicJwk, kid: "enc", use: "enc" },
          { ...rsa.publicJwk, kid: "ops", key_ops: ["encrypt"] },
          "junk",
        ],
      },
      "test",
    );
    expect(keys.map((k) => k.kid)).toEqual(["rsa-1"]);
  });

  test("static_jwks: parsed once, never fetched, refused when malformed", async () => {
    const src = staticJwksSource(JSON.stringify({ keys: [rsa.publicJwk] }));
    expect((await src.keys()).length).toBe(1);
    expect(await src.refreshForUnknownKid()).toBeNull();
    expect(src.label).toBe("static_jwks");
    expect(() => staticJwksSource("{not json")).toThrow("static_jwks: the JWKS is not valid JSON");
    expect(() => staticJwksSource({ nokeys: [] })).toThrow('"keys" array');
    expect(() => staticJwksSource({ keys: Array(65).fill(rsa.publicJwk) })).toThrow("more than the 64");
  });
});

describe("production fetcher", () => {
  const dir = mkdtempSync(join(tmpdir(), "oidc-roots-"));
  const realFetch = globalThis.fetch;
  afterEach(() => {
    globalThis.fetch = realFetch;
  });

  test("SSL_CERT_FILE is read and passed as the trusted roots; unset means the system's", async () => {
    const file = join(dir, "roots.pem");
    writeFileSync(file, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
    const seen: RequestInit[] = [];
    globalThis.fetch = (async (_url: string, init: RequestInit) => {
      seen.push(init);
      return new Response("{}");
    }) as typeof fetch;
    await defaultFetcher({ SSL_CERT_FILE: file })("https://x.test/", { method: "GET" });
    await defaultFetcher({})("https://x.test/", { method: "GET" });
    expect((seen[0] as { tls?: { ca?: string[] } }).tls?.ca?.[0]).toContain("BEGIN CERTIFICATE");
    expect((seen[1] as { tls?: unknown }).tls).toBeUndefined();
    expect(() => defaultFetcher({ SSL_CERT_FILE: join(dir, "missing.pem") })).toThrow("cannot be read");
    rmSync(dir, { recursive: true, force: true });
  });
});
