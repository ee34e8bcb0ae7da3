// The OIDC issuer harness (test/harness/oidc-issuer.ts): discovery and JWKS over HTTPS with its
// CA (curl --cacert as the independent client), tokens that verify with jose against the JWKS,
// rotation, outages, the bad tokens, and the GitHub Actions token endpoint.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet, jwtVerify } from "jose";
import { type OidcIssuer, startOidcIssuer } from "../../harness/oidc-issuer.ts";
import { cleanupAfterFile } from "../../harness/proc.ts";

cleanupAfterFile();

let iss: OidcIssuer;
let ca: string;

beforeAll(async () => {
  iss = await startOidcIssuer({ keys: ["RS256", "ES256"] });
  ca = readFileSync(iss.caFile, "utf8");
});
afterAll(async () => {
  await iss.stop();
});

async function curl(args: string[]): Promise<{ code: number; out: string }> {
  const p = Bun.spawn(["curl", "-sS", "--cacert", iss.caFile, ...args], { stdout: "pipe", stderr: "pipe" });
  const out = await new Response(p.stdout).text();
  return { code: await p.exited, out };
}

const jwks = async (): Promise<JSONWebKeySet> =>
  (await fetch(iss.jwksUri, { tls: { ca } } as RequestInit)).json() as Promise<JSONWebKeySet>;

async function verify(token: string) {
  return jwtVerify(token, createLocalJWKSet(await jwks()), { issuer: iss.issuer });
}

describe("OIDC issuer harness", () => {
  test("discovery and JWKS over HTTPS with the CA file (curl), refused without it", async () => {
    const d = await curl([`${iss.issuer}/.well-known/openid-configuration`]);
    expect(d.code).toBe(0);
    const doc = JSON.parse(d.out);
    expect(doc).toMatchObject({
      issuer: iss.issuer,
      jwks_uri: iss.jwksUri,
      response_types_supported: ["id_token"],
      id_token_signing_alg_values_supported: ["RS256", "ES256"],
    });
    const k = await curl([doc.jwks_uri]);
    const set = JSON.parse(k.out);
    expect(set.keys.map((x: { kty: string }) => x.kty)).toEqual(["RSA", "EC"]);
    const p = Bun.spawn(["curl", "-sS", "--cacert", "/dev/null", iss.jwksUri], {
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(await p.exited).not.toBe(0);
  });

  test("GitHub, GitLab and Kubernetes tokens verify against the JWKS with their claim sets", async () => {
    const gh = await verify(await iss.github({ environment: "prod" }));
    expect(gh.protectedHeader).toMatchObject({ alg: "RS256", typ: "JWT", kid: iss.keys[0]!.kid });
    expect(gh.payload).toMatchObject({
      sub: "repo:octo-org/octo-repo:environment:prod",
      aud: "https://github.com/octo-org",
      repository: "octo-org/octo-repo",
      repository_owner: "octo-org",
      ref: "refs/heads/main",
      ref_type: "branch",
      environment: "prod",
      runner_environment: "github-hosted",
    });
    for (const c of [
      "repository_owner_id",
      "repository_id",
      "run_id",
      "run_number",
      "run_attempt",
      "actor",
      "actor_id",
      "workflow",
      "workflow_ref",
      "workflow_sha",
      "head_ref",
      "base_ref",
      "event_name",
      "ref_protected",
      "job_workflow_ref",
      "jti",
      "nbf",
      "exp",
      "iat",
    ])
      expect(gh.payload).toHaveProperty(c);
    expect(typeof gh.payload.run_id).toBe("string");

    const gl = await verify(await iss.gitlab({ ref: "feature-1" }));
    expect(gl.payload).toMatchObject({
      sub: "project_path:my-group/my-project:ref_type:branch:ref:feature-1",
      namespace_path: "my-group",
      project_path: "my-group/my-project",
      ref_path: "refs/heads/feature-1",
      runner_id: 1,
    });
    for (const c of [
      "namespace_id",
      "project_id",
      "user_id",
      "user_login",
      "user_email",
      "pipeline_id",
      "pipeline_source",
      "job_id",
      "ref_protected",
      "environment",
      "environment_protected",
      "deployment_tier",
      "runner_environment",
      "sha",
      "ci_config_ref_uri",
      "ci_config_sha",
      "project_visibility",
      "jti",
      "aud",
    ])
      expect(gl.payload).toHaveProperty(c);

    const ec = await iss.addKey("ES256");
    iss.useKey(ec.kid);
    const k8s = await verify(
      await iss.kubernetes({ namespace: "ci", serviceAccount: "bot", node: "node-1" }),
    );
    expect(k8s.protectedHeader.alg).toBe("ES256");
    expect(k8s.payload).toMatchObject({
      sub: "system:serviceaccount:ci:bot",
      aud: [iss.issuer],
      "kubernetes.io": { namespace: "ci", serviceaccount: { name: "bot" }, node: { name: "node-1" } },
    });
    iss.useKey(iss.keys[0]!.kid);
  });

  test("rotation: a new key is published, an unpublished one no longer verifies; fetches counted", async () => {
    const before = iss.jwksFetches;
    const k = await iss.addKey("RS256", { use: true });
    const t = await iss.github();
    expect(decodeProtectedHeader(t).kid).toBe(k.kid);
    await verify(t);
    iss.unpublishKey(k.kid);
    await expect(verify(t)).rejects.toThrow();
    expect(iss.jwksFetches - before).toBe(2);
    iss.useKey(iss.keys[0]!.kid);
  });

  test("outages: 500 and dropped connections", async () => {
    iss.mode = "500";
    expect((await fetch(iss.jwksUri, { tls: { ca } } as RequestInit)).status).toBe(500);
    iss.mode = "close";
    await expect(fetch(iss.jwksUri, { tls: { ca } } as RequestInit)).rejects.toThrow();
    iss.mode = "up";
    expect((await fetch(iss.jwksUri, { tls: { ca } } as RequestInit)).status).toBe(200);
  });

  test("bad tokens are refused by a JWKS verifier", async () => {
    for (const kind of [
      "alg-none",
      "hs256-public-key",
      "unknown-kid",
      "bad-signature",
      "wrong-iss",
      "expired",
      "not-yet-valid",
    ] as const) {
      const t = await iss.badToken(kind);
      await expect(verify(t), kind).rejects.toThrow();
    }
  });

  test("GitHub Actions token endpoint: bearer checked, audience honoured (URL already has a query)", async () => {
    const { ACTIONS_ID_TOKEN_REQUEST_URL: url, ACTIONS_ID_TOKEN_REQUEST_TOKEN: bearer } = iss.actionsEnv;
    expect(url).toMatch(
      /\/_apis\/distributedtask\/hubs\/Actions\/plans\/[^/]+\/jobs\/[^/]+\/idtoken\?api-version=2\.0$/,
    );
    // As @actions/core's getIDToken: the URL plus "&audience=<encoded>".
    const ok = await curl([
      "-H",
      `Authorization: Bearer ${bearer}`,
      `${url}&audience=${encodeURIComponent("tauth.example.test")}`,
    ]);
    const { value } = JSON.parse(ok.out);
    const v = await verify(value);
    expect(v.payload.aud).toBe("tauth.example.test");
    const noAud = JSON.parse((await curl(["-H", `Authorization: Bearer ${bearer}`, url])).out);
    expect((await verify(noAud.value)).payload.aud).toBe("https://github.com/octo-org");
    const wrong = await curl([
      "-w",
      "%{http_code}",
      "-o",
      "/dev/null",
      "-H",
      "Authorization: Bearer nope",
      `${url}&audience=x`,
    ]);
    expect(wrong.out).toBe("401");
    const none = await curl(["-w", "%{http_code}", "-o", "/dev/null", `${url}&audience=x`]);
    expect(none.out).toBe("401");
    expect(iss.actionsRequests.map((r) => [r.audience, r.status])).toEqual([
      ["tauth.example.test", 200],
      [null, 200],
      ["x", 401],
      ["x", 401],
    ]);
  });
});
