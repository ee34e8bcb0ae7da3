// A local OIDC issuer for the github / gitlab / kubernetes join tests: HTTPS on loopback with
// a test CA of its own (`caFile` for SSL_CERT_FILE), serving
//   GET {issuer}/.well-known/openid-configuration   discovery (issuer, jwks_uri, …)
//   GET {issuer}{jwksPath}                          the JWKS (keys added/removed at run time;
//                                                   fetches counted; can be made to fail)
//   GET /_apis/…/idtoken?api-version=2.0&audience=X the GitHub Actions runtime's token endpoint
// and minting RS256 / ES256 ID tokens with the claim sets GitHub Actions, GitLab CI and
// Kubernetes projected service-account tokens carry (builders with defaults and overrides), plus
// deliberately bad tokens. Signing uses the `jose` package.

import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { makeTestCa, type TestCa } from "./test-ca.ts";

export type SigningAlg = "RS256" | "ES256";

export interface IssuerKey {
  kid: string;
  alg: SigningAlg;
  privateKey: CryptoKey;
  publicJwk: JWK;
  /** Listed in the JWKS (a removed key can still sign, for "unknown kid" tests). */
  published: boolean;
}

export type Claims = Record<string, unknown>;

const now = () => Math.floor(Date.now() / 1000);

// ---- claim sets (the documented ones; every value a string where the platform sends strings) ----

/**
 * GitHub Actions ID token claims, as GitHub's "About security hardening with OpenID Connect"
 * lists them (example token there): ids and numbers are strings; nbf is iat − 600 and exp is
 * iat + 300 as in GitHub's example. `sub` follows the environment when there is one, else the ref.
 */
export function githubClaims(issuer: string, o: Claims = {}): Claims {
  const iat = (o.iat as number | undefined) ?? now();
  const repository = (o.repository as string | undefined) ?? "octo-org/octo-repo";
  const owner = (o.repository_owner as string | undefined) ?? repository.split("/")[0]!;
  const ref = (o.ref as string | undefined) ?? "refs/heads/main";
  const environment = o.environment as string | undefined;
  const base: Claims = {
    jti: randomUUID(),
    sub: environment ? `repo:${repository}:environment:${environment}` : `repo:${repository}:ref:${ref}`,
    aud: `https://github.com/${owner}`,
    ref,
    sha: "e3a445b6a3d1f9d2a61fd2a05e2a8a0f6ecb3b7f",
    repository,
    repository_owner: owner,
    repository_owner_id: "65",
    repository_id: "74",
    repository_visibility: "private",
    run_id: "5478893345",
    run_number: "10",
    run_attempt: "1",
    runner_environment: "github-hosted",
    actor: "octocat",
    actor_id: "12",
    workflow: "deploy",
    workflow_ref: `${repository}/.github/workflows/deploy.yml@${ref}`,
    workflow_sha: "e3a445b6a3d1f9d2a61fd2a05e2a8a0f6ecb3b7f",
    head_ref: "",
    base_ref: "",
    event_name: "push",
    ref_type: ref.startsWith("refs/tags/") ? "tag" : "branch",
    ref_protected: "true",
    job_workflow_ref: `${repository}/.github/workflows/deploy.yml@${ref}`,
    job_workflow_sha: "e3a445b6a3d1f9d2a61fd2a05e2a8a0f6ecb3b7f",
    iss: issuer,
    nbf: iat - 600,
    exp: iat + 300,
    iat,
  };
  if (environment) base.environment = environment;
  return { ...base, ...o };
}

/**
 * GitLab CI ID token claims (`id_tokens:` in .gitlab-ci.yml), as GitLab's "ID token
 * authentication" page lists them: ids are strings except runner_id (a number); sub is
 * `project_path:{group}/{project}:ref_type:{type}:ref:{branch_name}`.
 */
export function gitlabClaims(issuer: string, o: Claims = {}): Claims {
  const iat = (o.iat as number | undefined) ?? now();
  const projectPath = (o.project_path as string | undefined) ?? "my-group/my-project";
  const ref = (o.ref as string | undefined) ?? "main";
  const refType = (o.ref_type as string | undefined) ?? "branch";
  const host = new URL(issuer).host;
  const base: Claims = {
    namespace_id: "72",
    namespace_path: projectPath.slice(0, projectPath.lastIndexOf("/")),
    project_id: "20",
    project_path: projectPath,
    user_id: "1",
    user_login: "sample-user",
    user_email: "sample-user@example.com",
    user_access_level: "developer",
    pipeline_id: "574",
    pipeline_source: "push",
    job_id: "302",
    ref,
    ref_type: refType,
    ref_path: refType === "tag" ? `refs/tags/${ref}` : `refs/heads/${ref}`,
    ref_protected: "true",
    environment: "production",
    environment_protected: "true",
    deployment_tier: "production",
    environment_action: "start",
    runner_id: 1,
    runner_environment: "gitlab-hosted",
    sha: "714a629c0b401fdce83e847fc9589983fc6f46bc",
    project_visibility: "private",
    ci_config_ref_uri: `${host}/${projectPath}//.gitlab-ci.yml@refs/heads/${ref}`,
    ci_config_sha: "714a629c0b401fdce83e847fc9589983fc6f46bc",
    jti: randomUUID(),
    iss: issuer,
    iat,
    nbf: iat - 5,
    exp: iat + 3600,
    sub: `project_path:${projectPath}:ref_type:${refType}:ref:${ref}`,
    aud: "https://auth.example.test",
  };
  return { ...base, ...o };
}

/**
 * A Kubernetes projected service-account token's claims (TokenRequest / bound tokens): aud is
 * a list, sub `system:serviceaccount:<ns>:<name>`, the `kubernetes.io` object with namespace,
 * pod, serviceaccount (and node when bound to one). Options name the account and pod.
 */
export function kubernetesClaims(
  issuer: string,
  o: Claims & { namespace?: string; serviceAccount?: string; pod?: string; node?: string } = {},
): Claims {
  const { namespace = "default", serviceAccount = "tbot", pod = "tbot-7d9c5b7f4-abcde", node, ...rest } = o;
  const iat = (rest.iat as number | undefined) ?? now();
  const k8s: Claims = {
    namespace,
    pod: { name: pod, uid: "4f7c5d1e-7c4e-4b8a-9d2f-1f2e3d4c5b6a" },
    serviceaccount: { name: serviceAccount, uid: "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d" },
  };
  if (node) k8s.node = { name: node, uid: "0d1c2b3a-4f5e-4d6c-8b7a-9f8e7d6c5b4a" };
  return {
    aud: [issuer],
    exp: iat + 3600,
    iat,
    iss: issuer,
    jti: randomUUID(),
    "kubernetes.io": k8s,
    nbf: iat,
    sub: `system:serviceaccount:${namespace}:${serviceAccount}`,
    ...rest,
  };
}

// ---- the issuer ----

export type BadTokenKind =
  | "alg-none"
  | "hs256-public-key"
  | "unknown-kid"
  | "bad-signature"
  | "wrong-iss"
  | "expired"
  | "not-yet-valid";

export interface OidcIssuerOptions {
  /** Path under the origin the issuer URL has (GHES-style `/enterprise-slug`); default none. */
  issuerPath?: string;
  /** Where the JWKS is served under the issuer; default "/.well-known/jwks" (GitHub's). */
  jwksPath?: string;
  /** Algorithms of the keys made at start; default ["RS256"]. */
  keys?: SigningAlg[];
  /** The GitHub Actions runtime's request token; default a random one. */
  actionsRequestToken?: string;
  /** Claims every GitHub token from the Actions endpoint gets (besides aud). */
  actionsClaims?: Claims;
}

export interface OidcIssuer {
  /** The `iss`: "https://127.0.0.1:<port>" (+ issuerPath). */
  issuer: string;
  /** "https://127.0.0.1:<port>" */
  origin: string;
  port: number;
  jwksUri: string;
  caFile: string;
  ca: TestCa;
  keys: IssuerKey[];
  /** JWKS fetches so far (discovery fetches separately). */
  jwksFetches: number;
  discoveryFetches: number;
  /** "up" (default), "500" (JWKS and discovery answer 500), "close" (the connection is dropped). */
  mode: "up" | "500" | "close";
  /** Adds a key (published, and the signing key when `use` is set); returns it. */
  addKey(alg?: SigningAlg, opts?: { use?: boolean; kid?: string }): Promise<IssuerKey>;
  /** Takes a key out of the JWKS (it can still sign). */
  unpublishKey(kid: string): void;
  /** The key new tokens are signed with. */
  signingKey: IssuerKey;
  useKey(kid: string): void;
  /** Signs `claims` with the signing key (or `opts.kid`); extra protected-header fields allowed. */
  mint(claims: Claims, opts?: { kid?: string; header?: Record<string, unknown> }): Promise<string>;
  github(o?: Claims): Promise<string>;
  gitlab(o?: Claims): Promise<string>;
  kubernetes(o?: Parameters<typeof kubernetesClaims>[1]): Promise<string>;
  /** A deliberately bad token with `claims` (default: a GitHub claim set). */
  badToken(kind: BadTokenKind, claims?: Claims): Promise<string>;
  /** The GitHub Actions runtime's environment for a job (ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN). */
  actionsEnv: { ACTIONS_ID_TOKEN_REQUEST_URL: string; ACTIONS_ID_TOKEN_REQUEST_TOKEN: string };
  /** Requests to the Actions token endpoint: audience asked, bearer accepted, status. */
  actionsRequests: { audience: string | null; authorized: boolean; status: number }[];
  stop(): Promise<void>;
}

const b64url = (s: string | Uint8Array) => Buffer.from(s).toString("base64url");

async function makeKey(alg: SigningAlg, kid?: string): Promise<IssuerKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  const id = kid ?? (await calculateJwkThumbprint(jwk));
  return { kid: id, alg, privateKey, publicJwk: { ...jwk, kid: id, alg, use: "sig" }, published: true };
}

export async function startOidcIssuer(opts: OidcIssuerOptions = {}): Promise<OidcIssuer> {
  const ca = makeTestCa("oidc");
  const jwksPath = opts.jwksPath ?? "/.well-known/jwks";
  const issuerPath = (opts.issuerPath ?? "").replace(/\/$/, "");
  const requestToken = opts.actionsRequestToken ?? randomUUID().replace(/-/g, "");
  const keys: IssuerKey[] = [];
  for (const alg of opts.keys ?? ["RS256"]) keys.push(await makeKey(alg));
  const sockets = new Set<Socket>();
  // The Actions runtime's URL form: …/_apis/distributedtask/hubs/Actions/plans/<plan>/jobs/<job>/idtoken?api-version=2.0
  const actionsPath = `/_apis/distributedtask/hubs/Actions/plans/${randomUUID()}/jobs/${randomUUID()}/idtoken`;

  const iss: OidcIssuer = {
    issuer: "",
    origin: "",
    port: 0,
    jwksUri: "",
    caFile: ca.caFile,
    ca,
    keys,
    jwksFetches: 0,
    discoveryFetches: 0,
    mode: "up",
    signingKey: keys[0]!,
    async addKey(alg = "RS256", o = {}) {
      const k = await makeKey(alg, o.kid);
      keys.push(k);
      if (o.use) iss.signingKey = k;
      return k;
    },
    unpublishKey(kid) {
      for (const k of keys) if (k.kid === kid) k.published = false;
    },
    useKey(kid) {
      const k = keys.find((x) => x.kid === kid);
      if (!k) throw new Error(`no key ${kid}`);
      iss.signingKey = k;
    },
    async mint(claims, o = {}) {
      const k = o.kid ? keys.find((x) => x.kid === o.kid) : iss.signingKey;
      if (!k) throw new Error(`no key ${o.kid}`);
      return new SignJWT(claims)
        .setProtectedHeader({ alg: k.alg, kid: k.kid, typ: "JWT", ...o.header })
        .sign(k.privateKey);
    },
    // GitHub's header also has x5t (a certificate thumbprint); here a stand-in value of the same shape.
    github: (o) =>
      iss.mint(githubClaims(iss.issuer, o), { header: { x5t: iss.signingKey.kid.slice(0, 27) } }),
    gitlab: (o) => iss.mint(gitlabClaims(iss.issuer, o)),
    kubernetes: (o) => iss.mint(kubernetesClaims(iss.issuer, o)),
    async badToken(kind, claims) {
      const c = claims ?? githubClaims(iss.issuer);
      const k = iss.signingKey;
      switch (kind) {
        case "alg-none":
          return `${b64url(JSON.stringify({ alg: "none", typ: "JWT", kid: k.kid }))}.${b64url(JSON.stringify(c))}.`;
        case "hs256-public-key": {
          // The classic confusion: HMAC keyed with the public key's bytes (its JWK JSON and, for
          // RSA, the key as a verifier might load it) — here the JWK's canonical JSON.
          const header = b64url(JSON.stringify({ alg: "HS256", typ: "JWT", kid: k.kid }));
          const payload = b64url(JSON.stringify(c));
          const secret = new TextEncoder().encode(JSON.stringify(k.publicJwk));
          const key = await crypto.subtle.importKey("raw", secret, { name: "HMAC", hash: "SHA-256" }, false, [
            "sign",
          ]);
          const sig = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${header}.${payload}`));
          return `${header}.${payload}.${b64url(new Uint8Array(sig))}`;
        }
        case "unknown-kid": {
          const stray = await makeKey(k.alg);
          return new SignJWT(c)
            .setProtectedHeader({ alg: stray.alg, kid: stray.kid, typ: "JWT" })
            .sign(stray.privateKey);
        }
        case "bad-signature": {
          const t = await iss.mint(c);
          const [h, p, s] = t.split(".");
          const sig = Buffer.from(s!, "base64url");
          sig[0]! ^= 0x01;
          return `${h}.${p}.${sig.toString("base64url")}`;
        }
        case "wrong-iss":
          return iss.mint({ ...c, iss: "https://evil.example.test" });
        case "expired": {
          const t = now() - 7200;
          return iss.mint({ ...c, iat: t, nbf: t, exp: t + 300 });
        }
        case "not-yet-valid": {
          const t = now() + 3600;
          return iss.mint({ ...c, iat: t, nbf: t, exp: t + 300 });
        }
      }
    },
    actionsEnv: { ACTIONS_ID_TOKEN_REQUEST_URL: "", ACTIONS_ID_TOKEN_REQUEST_TOKEN: requestToken },
    actionsRequests: [],
    stop: async () => {},
  };

  const json = (res: import("node:http").ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json; charset=utf-8" });
    res.end(JSON.stringify(body));
  };

  const server: Server = createServer({ key: ca.keyPem, cert: ca.certPem }, async (req, res) => {
    const url = new URL(req.url ?? "/", iss.origin);
    const path = url.pathname;
    if (path === `${issuerPath}/.well-known/openid-configuration` || path === `${issuerPath}${jwksPath}`) {
      const discovery = path.endsWith("/openid-configuration");
      if (discovery) iss.discoveryFetches++;
      else iss.jwksFetches++;
      if (iss.mode === "close") {
        req.socket.destroy();
        return;
      }
      if (iss.mode === "500") return json(res, 500, { message: "internal error" });
      if (discovery)
        return json(res, 200, {
          issuer: iss.issuer,
          jwks_uri: iss.jwksUri,
          subject_types_supported: ["public", "pairwise"],
          response_types_supported: ["id_token"],
          claims_supported: [
            "sub",
            "aud",
            "exp",
            "iat",
            "iss",
            "jti",
            "nbf",
            "ref",
            "repository",
            "environment",
          ],
          id_token_signing_alg_values_supported: [...new Set(keys.map((k) => k.alg))],
          scopes_supported: ["openid"],
        });
      return json(res, 200, { keys: keys.filter((k) => k.published).map((k) => k.publicJwk) });
    }
    if (path === actionsPath) {
      const authorized = req.headers.authorization === `Bearer ${requestToken}`;
      const audience = url.searchParams.get("audience");
      if (!authorized || url.searchParams.get("api-version") !== "2.0") {
        iss.actionsRequests.push({ audience, authorized, status: 401 });
        return json(res, 401, { message: "Unauthorized" });
      }
      iss.actionsRequests.push({ audience, authorized, status: 200 });
      const token = await iss.github({
        ...opts.actionsClaims,
        ...(audience !== null ? { aud: audience } : {}),
      });
      return json(res, 200, { value: token });
    }
    json(res, 404, { message: "Not Found" });
  });
  server.on("secureConnection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  iss.port = (server.address() as AddressInfo).port;
  iss.origin = `https://127.0.0.1:${iss.port}`;
  iss.issuer = `${iss.origin}${issuerPath}`;
  iss.jwksUri = `${iss.issuer}${jwksPath}`;
  iss.actionsEnv.ACTIONS_ID_TOKEN_REQUEST_URL = `${iss.origin}${actionsPath}?api-version=2.0`;
  iss.stop = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
  return iss;
}
