// The kubernetes join method: spec.kubernetes as tctl create reads it (static_jwks and oidc;
// in_cluster refused), the server half with a fake auth service (a pinned JWKS, and a cluster
// issuer on loopback), and where the client finds the projected token.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { kubernetesJoinClient, kubernetesTokenPath } from "../../../src/join/kubernetes/client.ts";
import { kubernetesJoinServer } from "../../../src/join/kubernetes/server.ts";
import { kubernetesClaims, type OidcIssuer, startOidcIssuer } from "../../harness/oidc-issuer.ts";
import { cleanupAfterFile, tempDir } from "../../harness/proc.ts";
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

let k8s: OidcIssuer;
let jwks: string;
beforeAll(async () => {
  k8s = await startOidcIssuer({ jwksPath: "/openid/v1/jwks" });
  jwks = await jwksText(k8s);
});
afterAll(() => k8s.stop());

const asBot = (yaml: string) =>
  yaml.replace("roles: [App]", "roles: [Bot]\n  bot_name: b1").replace("name: example", "name: t1");
const jwksYaml = (sa = "ci:tbot") =>
  tokenYaml(
    "kubernetes",
    `  kubernetes:\n    type: static_jwks\n    static_jwks:\n      jwks: '${jwks}'\n    allow:\n      - service_account: "${sa}"\n`,
  );
const oidcYaml = (issuer: string, sa = "ci:tbot") =>
  tokenYaml(
    "kubernetes",
    `  kubernetes:\n    type: oidc\n    oidc:\n      issuer: ${issuer}\n    allow:\n      - service_account: "${sa}"\n`,
  );
const refused = (yaml: string) => {
  try {
    tokenFrom(yaml, "k.yaml");
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("accepted");
};
const sa = { namespace: "ci", serviceAccount: "tbot", aud: [CLUSTER] };

describe("spec.kubernetes (tctl create)", () => {
  test("the reference's static_jwks example (keys filled in, its # line inside the block) and oidc example", () => {
    const j = tokenFrom(asBot(vector("kubernetes-jwks-spec.yaml").replace('{"keys":[--snip--]}', jwks)));
    expect(j.spec.kubernetes).toMatchObject({
      type: "static_jwks",
      allow: [{ service_account: "namespace:serviceaccount" }],
    });
    expect(
      JSON.parse((j.spec.kubernetes as { static_jwks: { jwks: string } }).static_jwks.jwks).keys,
    ).toHaveLength(1);
    expect(tokenFrom(asBot(vector("kubernetes-oidc-spec.yaml"))).spec.kubernetes).toEqual({
      type: "oidc",
      oidc: { issuer: "https://oidc.eks.us-west-2.amazonaws.com/id/my-cluster" },
      allow: [{ service_account: "namespace:serviceaccount" }],
    });
  });

  test.each([
    [
      "in_cluster (the reference's example)",
      vector("kubernetes-in-cluster-spec.yaml"),
      /k\.yaml:19:\d+: spec\.kubernetes\.type in_cluster is not supported by this build/,
    ],
    [
      "no type (in_cluster by default)",
      tokenYaml("kubernetes", '  kubernetes:\n    allow:\n      - service_account: "a:b"\n'),
      /in_cluster \(the default\) is not supported/,
    ],
    [
      "an unknown type",
      tokenYaml("kubernetes", "  kubernetes:\n    type: token_review\n"),
      /must be one of in_cluster, static_jwks, oidc/,
    ],
    ["service_account without namespace", jwksYaml("tbot"), /must be "namespace:name", got "tbot"/],
    ["an http issuer", oidcYaml("http://127.0.0.1:1"), /must use https/],
    [
      "static_jwks missing",
      tokenYaml(
        "kubernetes",
        '  kubernetes:\n    type: static_jwks\n    allow:\n      - service_account: "a:b"\n',
      ),
      /static_jwks\.jwks is required/,
    ],
    [
      "both static_jwks and oidc",
      tokenYaml(
        "kubernetes",
        `  kubernetes:\n    type: oidc\n    oidc:\n      issuer: https://x.example\n    static_jwks:\n      jwks: '${"{}"}'\n    allow:\n      - service_account: "a:b"\n`,
      ),
      /static_jwks is set but type is oidc/,
    ],
    [
      "a key copied with placeholders (the shape of an RSA key, not its numbers)",
      tokenYaml(
        "kubernetes",
        `  kubernetes:\n    type: static_jwks\n    static_jwks:\n      jwks: '{"keys":[{"kty":"RSA","kid":"k1","alg":"RS256","use":"sig","n":"…","e":"AQAB"}]}'\n    allow:\n      - service_account: "a:b"\n`,
      ),
      /key "k1" is not a valid RSA public key: "n" is not base64url/,
    ],
  ])("refused: %s", (_n, yaml, message) => {
    const m = refused(yaml);
    expect(m).toMatch(message);
    expect(m.split("\n")).toHaveLength(1);
  });
});

describe("kubernetes server half", () => {
  test("static_jwks: verified with the pinned keys, nothing fetched, no issuer pinned", async () => {
    const fetcher = trustingFetch();
    const f = fakeAuth(tokenFrom(jwksYaml()), { fetch: fetcher });
    const jwt = await k8s.kubernetes({ ...sa, iss: "https://kubernetes.default.svc.cluster.local" });
    await kubernetesJoinServer.handle(f.ctx, joinRequest("kubernetes", "t1", jwt));
    expect(fetcher.calls).toEqual([]);
    expect(f.audits[0]).toMatchObject({ event: "kubernetes.join", sub: "system:serviceaccount:ci:tbot" });
  });

  test("oidc: the issuer's keys by discovery", async () => {
    const f = fakeAuth(tokenFrom(oidcYaml(k8s.issuer)), { fetch: trustingFetch(k8s) });
    await kubernetesJoinServer.handle(f.ctx, joinRequest("kubernetes", "t1", await k8s.kubernetes(sa)));
    expect(f.finished[0]!.joinMethod).toBe("kubernetes");
    // For workload identity templates: join.kubernetes.service_account.name and friends.
    const attrs = f.finished[0]!.joinAttributes!.kubernetes as Record<string, Record<string, unknown>>;
    expect(attrs.service_account).toMatchObject({ name: "tbot", namespace: "ci" });
    expect(attrs.namespace).toBe("ci" as never);
  });

  test.each([
    [
      "another service account",
      { ...sa, serviceAccount: "deployer" },
      /service_account "ci:deployer" \(from "sub"\) does not match any allow rule \(allowed: "ci:tbot"\)/,
    ],
    [
      "aud the API server's, not the cluster name",
      { ...sa, aud: ["https://kubernetes.default.svc"] },
      /expected audience "cluster\.test"/,
    ],
  ])("denied: %s", async (_n, claims, message) => {
    const f = fakeAuth(tokenFrom(oidcYaml(k8s.issuer)), { fetch: trustingFetch(k8s) });
    const err = await kubernetesJoinServer
      .handle(f.ctx, joinRequest("kubernetes", "t1", await k8s.kubernetes(claims)))
      .catch((e) => e);
    expect(err.message).toMatch(message);
    expect(f.finished).toEqual([]);
  });

  test("denied: a token not bound to a pod (a long-lived secret's shape)", async () => {
    const f = fakeAuth(tokenFrom(jwksYaml()), { fetch: trustingFetch() });
    const { "kubernetes.io": _k, ...claims } = kubernetesClaims(k8s.issuer, sa);
    const err = await kubernetesJoinServer
      .handle(f.ctx, joinRequest("kubernetes", "t1", await k8s.mint(claims)))
      .catch((e) => e);
    expect(err.message).toMatch(/not bound to a pod/);
  });
});

describe("kubernetes client half", () => {
  test("token path: onboarding.kubernetes.token_path, else KUBERNETES_TOKEN_PATH, else the standard mount", () => {
    expect(kubernetesTokenPath({ tokenPath: "/a" }, { KUBERNETES_TOKEN_PATH: "/b" })).toBe("/a");
    expect(kubernetesTokenPath(undefined, { KUBERNETES_TOKEN_PATH: "/b" })).toBe("/b");
    expect(kubernetesTokenPath(undefined, {})).toBe("/var/run/secrets/kubernetes.io/serviceaccount/token");
  });

  test("reads the file at each join; a missing file is one line naming it and the settings", async () => {
    const p = join(tempDir("k8s-"), "token");
    writeFileSync(p, "one\n");
    const c = kubernetesJoinClient({ tokenPath: p }, {});
    expect(await c.init()).toEqual({ id_token: "one" });
    writeFileSync(p, "two\n");
    expect(await c.init()).toEqual({ id_token: "two" });
    await expect(kubernetesJoinClient({ tokenPath: "/nonexistent/t" }, {}).init()).rejects.toThrow(
      /\/nonexistent\/t, which cannot be read \(ENOENT\); set onboarding\.kubernetes\.token_path or KUBERNETES_TOKEN_PATH/,
    );
  });
});
