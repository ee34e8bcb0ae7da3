// A fake OIDC issuer for the unit tests: real keys (RS256 and ES256) minted with jose, a
// discovery document and a JWKS served through a fake fetcher that counts its calls and can
// be told to fail, stall, redirect or send too much.

import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import type { Fetcher } from "../../../../src/join/oidc/fetch-json.ts";

export const ISSUER = "https://issuer.test";
export const JWKS_URI = `${ISSUER}/keys`;
export const AUDIENCE = "cluster.test";
/** The cluster clock used by the tests: 2030-01-01T00:00:00Z. */
export const NOW_MS = Date.UTC(2030, 0, 1);
export const NOW = NOW_MS / 1000;

export interface TestKey {
  kid: string;
  alg: "RS256" | "ES256";
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function makeKey(alg: "RS256" | "ES256", kid: string): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
  return { kid, alg, privateKey, publicJwk };
}

export async function mint(
  key: TestKey,
  claims: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
): Promise<string> {
  const body = {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: "repo:acme/app:ref:refs/heads/main",
    iat: NOW - 10,
    nbf: NOW - 10,
    exp: NOW + 300,
    ...claims,
  };
  for (const k of Object.keys(body))
    if (body[k as keyof typeof body] === undefined) delete body[k as keyof typeof body];
  return new SignJWT(body)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT", ...header })
    .sign(key.privateKey);
}

export type Behaviour =
  | "ok"
  | "down"
  | "http500"
  | "stall"
  | "redirect"
  | "huge"
  | "hugeDeclared"
  | "notJson";

/** A fetcher that plays the issuer; `calls` counts requests per URL. */
export class FakeIssuer {
  keys: JWK[] = [];
  discoveryIssuer = ISSUER;
  jwksUri = JWKS_URI;
  discovery: Behaviour = "ok";
  jwks: Behaviour = "ok";
  calls: string[] = [];
  lastInit: RequestInit | undefined;

  count(url: string): number {
    return this.calls.filter((u) => u === url).length;
  }
  get jwksFetches(): number {
    return this.count(JWKS_URI);
  }

  fetcher: Fetcher = async (url, init) => {
    this.calls.push(url);
    this.lastInit = init;
    if (url === `${ISSUER}/.well-known/openid-configuration`)
      return this.respond(this.discovery, { issuer: this.discoveryIssuer, jwks_uri: this.jwksUri }, init);
    if (url === JWKS_URI) return this.respond(this.jwks, { keys: this.keys }, init);
    return new Response("not found", { status: 404 });
  };

  private async respond(b: Behaviour, body: unknown, init: RequestInit): Promise<Response> {
    switch (b) {
      case "ok":
        return Response.json(body);
      case "down":
        throw Object.assign(new Error("Unable to connect. Is the computer able to access the url?"), {
          code: "ConnectionRefused",
        });
      case "http500":
        return new Response("oops", { status: 500 });
      case "redirect":
        return new Response(null, { status: 302, headers: { location: "http://elsewhere.test/keys" } });
      case "notJson":
        return new Response("<html>", { status: 200 });
      case "hugeDeclared":
        return new Response("{}", { status: 200, headers: { "content-length": String(10 * 1024 * 1024) } });
      case "huge": {
        // A stream with no declared length that never stops: the cap must cut it.
        let sent = 0;
        const chunk = new TextEncoder().encode(`{"keys":[${"1,".repeat(8000)}`);
        const stream = new ReadableStream<Uint8Array>({
          pull(c) {
            sent += chunk.byteLength;
            if (sent > 50 * 1024 * 1024) c.close();
            else c.enqueue(chunk);
          },
        });
        return new Response(stream, { status: 200 });
      }
      case "stall":
        return new Promise((_, reject) => {
          init.signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
        });
    }
  }
}
