// The github join method: spec.github as tctl create reads it (the reference's examples
// accepted, bad ones refused at their line), the server half against a loopback GHES-style
// issuer with a fake auth service, and the client's request to the Actions token service.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { actionsIdToken } from "../../../src/join/github/client.ts";
import { githubIssuerOverride } from "../../../src/join/github/issuer-override.ts";
import { githubJoinServer } from "../../../src/join/github/server.ts";
import type { GithubSpec } from "../../../src/join/github/token-spec.ts";
import { type OidcIssuer, startOidcIssuer } from "../../harness/oidc-issuer.ts";
import { cleanupAfterFile } from "../../harness/proc.ts";
import {
  CLUSTER,
  fakeAuth,
  joinRequest,
  jwksText,
  tokenFrom,
  tokenYaml,
  trustingFetch,
  vector,
} from "./oidc/method-fixture.ts";

cleanupAfterFile();

let ghes: OidcIssuer;
let host: string;
beforeAll(async () => {
  ghes = await startOidcIssuer({ issuerPath: "/_services/token" });
  host = ghes.origin.replace("https://", "");
});
afterAll(() => ghes.stop());

const gh = (block: string) => tokenYaml("github", `  github:\n${block}`);
const refused = (yaml: string) => {
  try {
    tokenFrom(yaml);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("accepted");
};

describe("spec.github (tctl create)", () => {
  test("the reference's examples: the guide's, and all options without enterprise_slug", () => {
    expect(tokenFrom(vector("github-actions-guide.yaml")).spec.github).toEqual({
      allow: [{ repository: "gravitational/example" }],
    });
    const all = vector("github-spec.yaml")
      .replace(
        '{"keys":[--snip--]}',
        '{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}',
      )
      .replace(/^ {4}enterprise_slug: slug\n/m, "");
    const spec = tokenFrom(all).spec.github as GithubSpec;
    expect(spec.enterprise_server_host).toBe("ghes.example.com");
    expect(spec.allow[0]).toMatchObject({ repository: "gravitational/teleport", ref: "ref/heads/main" });
    expect(spec.static_jwks).toContain('"kty":"EC"');
  });

  test("all options as written: host and slug together are refused, at the line", () => {
    const yaml = vector("github-spec.yaml").replace('{"keys":[--snip--]}', '{"keys":[]}');
    // The JWKS is checked after the issuer; the pair is the first problem.
    expect(refused(yaml)).toMatch(
      /token\.yaml:\d+:\d+.*enterprise_server_host and enterprise_slug cannot both be set/,
    );
  });

  test.each([
    ["no github block", tokenYaml("github", ""), /needs a spec\.github block/],
    ["no allow", gh("    enterprise_slug: acme\n"), /needs spec\.github\.allow/],
    ["empty allow", gh("    allow: []\n"), /at least one rule/],
    [
      "a rule with no identifying field",
      gh("    allow:\n      - workflow: deploy\n"),
      /must set at least one of sub, repository, repository_owner/,
    ],
    ["an unknown field", gh("    allow:\n      - repo: acme/app\n"), /token\.yaml:\d+:\d+.*repo/],
    [
      "a URL as enterprise_server_host",
      gh("    enterprise_server_host: https://ghes.example.com\n    allow:\n      - repository: a/b\n"),
      /must be a host name/,
    ],
    [
      "static_jwks not JSON",
      gh("    static_jwks: nope\n    allow:\n      - repository: a/b\n"),
      /static_jwks is not valid JSON/,
    ],
    [
      "static_jwks with a private key",
      gh(
        `    static_jwks: '{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}]}'\n    allow:\n      - repository: a/b\n`,
      ),
      /private key material \("d"\)/,
    ],
    [
      "static_jwks with only a symmetric key",
      gh(`    static_jwks: '{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}'\n    allow:\n      - repository: a/b\n`),
      /private key material|no usable public/,
    ],
  ])("refused: %s", (_name, yaml, message) => {
    const m = refused(yaml);
    expect(m).toMatch(message);
    expect(m.split("\n")).toHaveLength(1);
  });

  test("TAUTH_GITHUB_ISSUER_URL must be https", () => {
    expect(() => githubIssuerOverride({ TAUTH_GITHUB_ISSUER_URL: "http://127.0.0.1:1" })).toThrow(
      /must use https/,
    );
    expect(githubIssuerOverride({ TAUTH_GITHUB_ISSUER_URL: "https://mirror.example" })).toBe(
      "https://mirror.example",
    );
    expect(githubIssuerOverride({})).toBeUndefined();
  });
});

describe("github server half", () => {
  const token = () =>
    tokenFrom(
      gh(
        `    enterprise_server_host: "${host}"\n    allow:\n      - repository: octo-org/other\n      - repository_owner: octo-org\n        workflow: deploy\n`,
      ),
    );

  test("joins: the matched rule and sub audited, never the token; non-renewable, new instance", async () => {
    const f = fakeAuth(token(), { fetch: trustingFetch(ghes) });
    const jwt = await ghes.github({ aud: CLUSTER });
    await githubJoinServer.handle(f.ctx, joinRequest("github", "t1", jwt));
    expect(f.finished[0]).toMatchObject({
      joinMethod: "github",
      isNewInstance: true,
      instanceId: "instance-new",
    });
    // The verified claims go to the instance record for workload identity templates (join.github.*).
    const attrs = f.finished[0]!.joinAttributes!.github as Record<string, unknown>;
    expect(attrs.repository_owner).toBe("octo-org");
    expect(typeof attrs.repository).toBe("string");
    expect(attrs.nonce).toBeUndefined();
    expect(f.audits).toEqual([
      {
        event: "github.join",
        token: "t1",
        bot: "b1",
        rule_index: 1,
        sub: "repo:octo-org/octo-repo:ref:refs/heads/main",
      },
    ]);
    expect(JSON.stringify(f.audits)).not.toContain(jwt.split(".")[2]!);
  });

  test("a re-join over mTLS by the same bot keeps its instance", async () => {
    const caller = { botName: "b1", botInstanceId: "instance-7" } as never;
    const f = fakeAuth(token(), { fetch: trustingFetch(ghes), caller });
    await githubJoinServer.handle(f.ctx, joinRequest("github", "t1", await ghes.github({ aud: CLUSTER })));
    expect(f.finished[0]).toMatchObject({ instanceId: "instance-7", isNewInstance: false });
  });

  test("one key cache per auth service: the second join fetches nothing", async () => {
    const cache = new Map<string, unknown>();
    const fetcher = trustingFetch(ghes);
    for (let i = 0; i < 2; i++) {
      const f = fakeAuth(token(), { fetch: fetcher, cache });
      await githubJoinServer.handle(f.ctx, joinRequest("github", "t1", await ghes.github({ aud: CLUSTER })));
    }
    expect(fetcher.calls).toHaveLength(2); // discovery + JWKS, once
  });

  test("pinned keys (static_jwks): nothing fetched", async () => {
    const t = tokenFrom(
      gh(
        `    enterprise_server_host: "${host}"\n    static_jwks: '${await jwksText(ghes)}'\n    allow:\n      - repository: octo-org/octo-repo\n`,
      ),
    );
    const fetcher = trustingFetch();
    const f = fakeAuth(t, { fetch: fetcher });
    await githubJoinServer.handle(f.ctx, joinRequest("github", "t1", await ghes.github({ aud: CLUSTER })));
    expect(fetcher.calls).toEqual([]);
    expect(f.finished).toHaveLength(1);
  });

  test.each([
    [
      "wrong repository",
      { repository: "evil/app", repository_owner: "evil" },
      /repository_owner "evil" does not match/,
      0,
    ],
    [
      "wrong audience",
      { aud: "https://github.com/octo-org" },
      /"aud" .* does not include the expected audience "cluster\.test"/,
      0,
    ],
    ["expired (by the cluster clock)", {}, /ID token expired/, Date.now() + 3600_000],
  ])("denied: %s", async (_n, claims, message, clock: number) => {
    const f = fakeAuth(token(), { fetch: trustingFetch(ghes), ...(clock ? { now: () => clock } : {}) });
    const jwt = await ghes.github({ aud: CLUSTER, ...claims });
    const err = await githubJoinServer.handle(f.ctx, joinRequest("github", "t1", jwt)).catch((e) => e);
    expect(err.message).toMatch(message);
    expect(err.code).toBe("access_denied");
    expect(f.finished).toEqual([]);
  });

  test("a token of another method, and no ID token, are bad requests", async () => {
    const f = fakeAuth(token(), { fetch: trustingFetch(ghes) });
    const req = joinRequest("github", "t1", "");
    expect((await githubJoinServer.handle(f.ctx, req).catch((e) => e)).message).toMatch(/needs an ID token/);
  });
});

describe("github client half", () => {
  test("asks the Actions service for the cluster name as audience, with the bearer token", async () => {
    const env = { ...ghes.actionsEnv, SSL_CERT_FILE: ghes.caFile };
    const before = ghes.actionsRequests.length;
    const jwt = await actionsIdToken(CLUSTER, env);
    expect(ghes.actionsRequests.slice(before)).toEqual([
      { audience: CLUSTER, authorized: true, status: 200 },
    ]);
    expect(JSON.parse(Buffer.from(jwt.split(".")[1]!, "base64url").toString()).aud).toBe(CLUSTER);
  });

  test("outside Actions, or refused by the service: one clear line", async () => {
    await expect(actionsIdToken(CLUSTER, {})).rejects.toThrow(
      /ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set/,
    );
    const env = { ...ghes.actionsEnv, ACTIONS_ID_TOKEN_REQUEST_TOKEN: "wrong", SSL_CERT_FILE: ghes.caFile };
    await expect(actionsIdToken(CLUSTER, env)).rejects.toThrow(/answered HTTP 401/);
  });
});
