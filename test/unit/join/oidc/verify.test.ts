// verifyIdToken: every denial of the issue's list, each a one-line access_denied naming what
// failed and never echoing the token; the checks that need no key run before any fetch.

import { beforeEach, describe, expect, test } from "bun:test";
import { base64url, exportSPKI, generateKeyPair, SignJWT } from "jose";
import { IssuerKeyCache, staticJwksSource } from "../../../../src/join/oidc/jwks-source.ts";
import { type VerifyIdTokenOptions, verifyIdToken } from "../../../../src/join/oidc/verify.ts";
import { type ErrorCode, UserError } from "../../../../src/util/errors.ts";
import { AUDIENCE, FakeIssuer, ISSUER, makeKey, mint, NOW, NOW_MS, type TestKey } from "./issuer-fixture.ts";

let rsa: TestKey;
let ec: TestKey;
let issuer: FakeIssuer;
let clockMs: number;
let cache: IssuerKeyCache;

beforeEach(async () => {
  rsa ??= await makeKey("RS256", "rsa-1");
  ec ??= await makeKey("ES256", "ec-1");
  issuer = new FakeIssuer();
  issuer.keys = [rsa.publicJwk, ec.publicJwk];
  clockMs = NOW_MS;
  cache = new IssuerKeyCache({ fetcher: issuer.fetcher, now: () => clockMs });
});

function opts(extra: Partial<VerifyIdTokenOptions> = {}): VerifyIdTokenOptions {
  return { issuer: ISSUER, audience: AUDIENCE, keys: cache.forIssuer(ISSUER), now: () => NOW_MS, ...extra };
}

/** The call is refused with a one-line message that has every part and none of the token. */
async function denied(
  jwt: string,
  o: VerifyIdTokenOptions,
  parts: string[],
  code: ErrorCode = "access_denied",
): Promise<string> {
  let err: unknown;
  try {
    await verifyIdToken(jwt, o);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(UserError);
  const e = err as UserError;
  expect(e.code).toBe(code);
  for (const p of parts) expect(e.message).toContain(p);
  expect(e.message).not.toContain("\n");
  expect(e.message.length).toBeLessThan(400);
  const segments = jwt.split(".").filter((s) => s.length > 8);
  for (const s of segments) expect(e.message).not.toContain(s.slice(0, 16));
  return e.message;
}

function unsigned(header: object, claims: object, signature = ""): string {
  const enc = (o: object) => base64url.encode(JSON.stringify(o));
  return `${enc(header)}.${enc(claims)}.${signature}`;
}

const base = { iss: ISSUER, aud: AUDIENCE, sub: "s", iat: NOW - 10, exp: NOW + 300 };

describe("accepted tokens", () => {
  test("RS256 and ES256 tokens from the issuer's key set verify and give their claims", async () => {
    const a = await verifyIdToken(await mint(rsa, { repository: "acme/app" }), opts());
    expect(a.repository).toBe("acme/app");
    const b = await verifyIdToken(await mint(ec), opts());
    expect(b.iss).toBe(ISSUER);
    expect(issuer.jwksFetches).toBe(1);
  });

  test("an aud array containing the expected audience, and an expected-audience list", async () => {
    await verifyIdToken(await mint(rsa, { aud: ["other", AUDIENCE] }), opts());
    await verifyIdToken(await mint(rsa, { aud: "second" }), opts({ audience: ["first", "second"] }));
  });

  test("a pinned key set with no issuer configured (kubernetes static_jwks) checks no iss", async () => {
    const keys = staticJwksSource(JSON.stringify({ keys: [rsa.publicJwk] }));
    const c = await verifyIdToken(
      await mint(rsa, { iss: "https://kubernetes.default.svc" }),
      opts({ issuer: null, keys }),
    );
    expect(c.iss).toBe("https://kubernetes.default.svc");
  });
});

describe("claims", () => {
  test("wrong audience names aud and the expected value", async () => {
    await denied(await mint(rsa, { aud: "someone-else" }), opts(), [
      '"aud"',
      '"someone-else"',
      `"${AUDIENCE}"`,
    ]);
    await denied(await mint(rsa, { aud: ["a", "b"] }), opts(), ['"aud"', `"${AUDIENCE}"`]);
  });

  test("a long claim value is cut, not echoed whole", async () => {
    const long = "x".repeat(5000);
    const m = await denied(await mint(rsa, { aud: long }), opts(), ['"aud"', "more chars"]);
    expect(m).not.toContain("x".repeat(200));
  });

  test("expired: refused past exp + leeway, accepted within the leeway", async () => {
    await denied(await mint(rsa, { exp: NOW - 120 }), opts(), [
      "expired",
      '"exp"',
      "2029-12-31T23:58:00Z",
      "leeway 60s",
    ]);
    await verifyIdToken(await mint(rsa, { exp: NOW - 30 }), opts());
    await denied(await mint(rsa, { exp: NOW - 30 }), opts({ leewaySeconds: 0 }), ['"exp"', "leeway 0s"]);
  });

  test("not yet valid: nbf ahead of the clock beyond the leeway", async () => {
    await denied(await mint(rsa, { nbf: NOW + 120 }), opts(), [
      "not yet valid",
      '"nbf"',
      "2030-01-01T00:02:00Z",
    ]);
    await verifyIdToken(await mint(rsa, { nbf: NOW + 30 }), opts());
    await denied(await mint(rsa, { nbf: NOW + 30 }), opts({ leewaySeconds: 0 }), ['"nbf"']);
  });

  test("iat in the future beyond the leeway", async () => {
    await denied(await mint(rsa, { iat: NOW + 120 }), opts(), [
      '"iat"',
      "in the future",
      "2030-01-01T00:00:00Z",
    ]);
    await verifyIdToken(await mint(rsa, { iat: NOW + 30 }), opts());
    await denied(await mint(rsa, { iat: NOW + 30 }), opts({ leewaySeconds: 0 }), ['"iat"']);
  });

  test("the cluster clock decides, not the machine's", async () => {
    const jwt = await mint(rsa);
    await denied(jwt, opts({ now: () => NOW_MS + 3_600_000 }), ['"exp"']);
  });

  test("a token without exp is refused; a malformed exp names the claim", async () => {
    await denied(await mint(rsa, { exp: undefined }), opts(), ['"exp"', "required"]);
    await denied(await mint(rsa, { exp: "tomorrow" }), opts(), ['"exp"', "malformed"]);
  });

  test("issuer mismatch is refused before any key is fetched", async () => {
    await denied(await mint(rsa, { iss: "https://evil.test" }), opts(), [
      '"iss"',
      '"https://evil.test"',
      `"${ISSUER}"`,
    ]);
    expect(issuer.calls.length).toBe(0);
  });
});

describe("algorithms and keys", () => {
  test('alg "none" is refused before any fetch', async () => {
    await denied(unsigned({ alg: "none", typ: "JWT" }, base), opts(), ['"alg" "none"', "RS256"]);
    await denied(unsigned({ alg: "None", kid: "rsa-1" }, base, "c2ln"), opts(), ['"alg"']);
    expect(issuer.calls.length).toBe(0);
  });

  test("HS256 signed with the RSA public key's bytes as the HMAC secret is refused", async () => {
    const { publicKey } = await generateKeyPair("RS256", { extractable: true });
    const pem = await exportSPKI(publicKey);
    for (const secret of [
      new TextEncoder().encode(pem),
      new TextEncoder().encode(JSON.stringify(rsa.publicJwk)),
    ]) {
      const jwt = await new SignJWT(base).setProtectedHeader({ alg: "HS256", kid: "rsa-1" }).sign(secret);
      await denied(jwt, opts(), ['"alg" "HS256"', "symmetric"]);
    }
    expect(issuer.calls.length).toBe(0);
  });

  test("HS* cannot even be pinned", async () => {
    await denied(
      await mint(rsa),
      opts({ algorithms: ["RS256", "HS256"] }),
      ['"HS256"', "asymmetric"],
      "bad_parameter",
    );
  });

  test("an algorithm outside the pinned list is refused", async () => {
    await denied(await mint(ec), opts({ algorithms: ["RS256"] }), ['"alg" "ES256"', "allowed: RS256"]);
  });

  test("no key confusion: a header alg that does not fit the kid's key type", async () => {
    // An ES256 token that names the RSA key, and an RS256 token that names the EC key.
    const ecNamingRsa = await mint(ec, {}, { kid: "rsa-1" });
    await denied(ecNamingRsa, opts(), ['"alg" "ES256"', '"rsa-1"', "kty RSA"]);
    const rsaNamingEc = await mint(rsa, {}, { kid: "ec-1" });
    await denied(rsaNamingEc, opts(), ['"alg" "RS256"', '"ec-1"', "kty EC"]);
  });

  test("a key that names its own alg is used for that alg only", async () => {
    const ps = { ...rsa.publicJwk, kid: "rsa-ps", alg: "PS256" };
    const keys = staticJwksSource({ keys: [ps] });
    await denied(await mint(rsa, {}, { kid: "rsa-ps" }), opts({ keys }), ['"rsa-ps"', "alg PS256"]);
  });

  test("bad signature: a changed claim, or a stranger's key under a known kid", async () => {
    const jwt = await mint(rsa, { sub: "repo:acme/app" });
    const [h, , s] = jwt.split(".");
    const forged = `${h}.${base64url.encode(JSON.stringify({ ...base, sub: "repo:acme/admin" }))}.${s}`;
    await denied(forged, opts(), ["signature does not verify", '"rsa-1"', ISSUER]);
    const stranger = await makeKey("RS256", "rsa-1");
    await denied(await mint(stranger), opts(), ["signature does not verify"]);
    const truncated = `${h}.${jwt.split(".")[1]}.`;
    await denied(truncated, opts(), ["signature"]);
  });

  test("keys named by the token itself (jwk, jku, x5u headers) are never used or fetched", async () => {
    const stranger = await makeKey("RS256", "rsa-1");
    const jwt = await mint(
      stranger,
      {},
      { jwk: stranger.publicJwk, jku: "https://evil.test/keys", x5u: "https://evil.test/c" },
    );
    await denied(jwt, opts(), ["signature does not verify"]);
    expect(issuer.calls.some((u) => u.includes("evil"))).toBe(false);
  });

  test("an unknown critical header is refused", async () => {
    // jose will not sign this, so the JWS is put together by hand with WebCrypto.
    const input = unsigned({ alg: "RS256", kid: "rsa-1", crit: ["x-magic"], "x-magic": 1 }, base).slice(
      0,
      -1,
    );
    const sig = await crypto.subtle.sign(
      "RSASSA-PKCS1-v1_5",
      rsa.privateKey,
      new TextEncoder().encode(input),
    );
    await denied(`${input}.${base64url.encode(new Uint8Array(sig))}`, opts(), ["x-magic", "not recognized"]);
  });

  test("unknown kid: one refresh, then refused; the next one within the interval fetches nothing", async () => {
    const other = await makeKey("RS256", "not-published");
    await verifyIdToken(await mint(rsa), opts()); // warm the cache
    expect(issuer.jwksFetches).toBe(1);
    clockMs += 60_000; // past the unknown-kid refresh interval
    await denied(await mint(other), opts(), ['"kid" "not-published"', ISSUER, "fetched again"]);
    expect(issuer.jwksFetches).toBe(2);
    await denied(await mint(other, {}, { kid: "random-2" }), opts(), [
      '"kid" "random-2"',
      "not fetched again",
    ]);
    expect(issuer.jwksFetches).toBe(2);
  });

  test("a kid the issuer rotated in is found by the refresh", async () => {
    await verifyIdToken(await mint(rsa), opts());
    const next = await makeKey("ES256", "ec-2");
    issuer.keys = [...issuer.keys, next.publicJwk];
    clockMs += 31_000;
    const c = await verifyIdToken(await mint(next), opts());
    expect(c.sub).toBeDefined();
    expect(issuer.jwksFetches).toBe(2);
  });

  test("a pinned key set is never refreshed for an unknown kid", async () => {
    const keys = staticJwksSource({ keys: [ec.publicJwk] });
    await denied(await mint(rsa), opts({ keys }), ['"kid" "rsa-1"', "static_jwks"]);
  });

  test("a token without kid is tried against every key that fits its alg", async () => {
    const noKid = await new SignJWT(base).setProtectedHeader({ alg: "ES256" }).sign(ec.privateKey);
    await verifyIdToken(noKid, opts());
    const stranger = await makeKey("ES256", "x");
    const bad = await new SignJWT(base).setProtectedHeader({ alg: "ES256" }).sign(stranger.privateKey);
    await denied(bad, opts(), ["signature does not verify with any key"]);
  });
});

describe("shape and reachability", () => {
  test("not a compact JWS, oversized, or garbage parts", async () => {
    await denied("", opts(), ["no ID token"]);
    await denied("a.b", opts(), ["compact JWS"]);
    await denied("abc.def.ghi.jkl", opts(), ["compact JWS"]);
    await denied(`${"a".repeat(20_000)}.b.c`, opts(), ["more than the 16384"]);
    await denied("eyJub3Q.eyJqc29u.c2ln", opts(), ["malformed"]);
    expect(issuer.calls.length).toBe(0);
  });

  test("JWKS endpoint down: cannot reach issuer", async () => {
    issuer.jwks = "down";
    await denied(await mint(rsa), opts(), [`cannot reach issuer ${ISSUER}`, "refused"], "connection_problem");
  });

  test("discovery naming another issuer is refused", async () => {
    issuer.discoveryIssuer = "https://other.test";
    await denied(await mint(rsa), opts(), [ISSUER, '"https://other.test"', "discovery document"]);
    expect(issuer.jwksFetches).toBe(0);
  });
});
