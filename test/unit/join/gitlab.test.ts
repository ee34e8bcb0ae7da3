// The gitlab join method: spec.gitlab as tctl create reads it, the server half against a
// loopback "self-hosted GitLab" (domain = 127.0.0.1:<port>) with a fake auth service, and the
// client reading the job's ID token variable.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { gitlabJoinClient } from "../../../src/join/gitlab/client.ts";
import { gitlabJoinServer } from "../../../src/join/gitlab/server.ts";
import type { GitlabSpec } from "../../../src/join/gitlab/token-spec.ts";
import { type OidcIssuer, startOidcIssuer } from "../../harness/oidc-issuer.ts";
import { cleanupAfterFile } from "../../harness/proc.ts";
import {
  CLUSTER,
  fakeAuth,
  joinRequest,
  tokenFrom,
  tokenYaml,
  trustingFetch,
  vector,
} from "./oidc/method-fixture.ts";

cleanupAfterFile();

let gl: OidcIssuer;
let domain: string;
beforeAll(async () => {
  gl = await startOidcIssuer({ jwksPath: "/oauth/discovery/keys" });
  domain = gl.origin.replace("https://", "");
});
afterAll(() => gl.stop());

const glYaml = (rules: string, d = domain) =>
  tokenYaml("gitlab", `  gitlab:\n    domain: "${d}"\n    allow:\n${rules}`);
const refused = (yaml: string) => {
  try {
    tokenFrom(yaml);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("accepted");
};

describe("spec.gitlab (tctl create)", () => {
  test("the reference's guide and every-field example are accepted as written", () => {
    expect(tokenFrom(vector("gitlab-guide.yaml")).spec.gitlab).toEqual({
      domain: "gitlab.example.com",
      allow: [{ project_path: "my-user/my-project" }],
    });
    const all = tokenFrom(vector("gitlab-spec.yaml")).spec.gitlab as GitlabSpec;
    expect(Object.keys(all.allow[0]!).sort()).toEqual(
      [
        "ci_config_ref_uri",
        "ci_config_sha",
        "deployment_tier",
        "environment",
        "environment_protected",
        "namespace_path",
        "pipeline_source",
        "project_path",
        "project_visibility",
        "ref",
        "ref_protected",
        "ref_type",
        "sub",
        "user_email",
        "user_login",
      ].sort(),
    );
    expect(all.allow[0]!.ref_protected).toBe(true);
  });

  test.each([
    ["no gitlab block", tokenYaml("gitlab", ""), /needs a spec\.gitlab block/],
    [
      "a rule with only ref",
      glYaml("      - ref: main\n"),
      /must set at least one of sub, namespace_path, project_path/,
    ],
    [
      "ref_protected not a boolean",
      glYaml('      - project_path: a/b\n        ref_protected: "yes"\n'),
      /ref_protected must be true or false/,
    ],
    [
      "a URL as domain",
      glYaml("      - project_path: a/b\n", "https://gitlab.example.com"),
      /must be a host name/,
    ],
    ["an unknown field", glYaml("      - project: a/b\n"), /token\.yaml:\d+:\d+/],
  ])("refused: %s", (_n, yaml, message) => {
    const m = refused(yaml);
    expect(m).toMatch(message);
    expect(m.split("\n")).toHaveLength(1);
  });
});

describe("gitlab server half", () => {
  test("joins when a glob rule matches; the issuer is https://<domain>", async () => {
    const f = fakeAuth(tokenFrom(glYaml("      - project_path: my-group/*\n        ref_type: branch\n")), {
      fetch: trustingFetch(gl),
    });
    await gitlabJoinServer.handle(f.ctx, joinRequest("gitlab", "t1", await gl.gitlab({ aud: CLUSTER })));
    expect(f.audits[0]).toMatchObject({ event: "gitlab.join", rule_index: 0 });
    expect(f.finished[0]!.joinMethod).toBe("gitlab");
  });

  test.each([
    [
      "another project",
      { project_path: "other/app" },
      /project_path "other\/app" does not match any allow rule \(allowed patterns: "my-group\/\*"\)/,
    ],
    ["aud not the cluster name", { aud: "https://gitlab.example.com" }, /expected audience "cluster\.test"/],
    [
      "another GitLab's token",
      { iss: "https://gitlab.com" },
      /"iss" "https:\/\/gitlab\.com" does not match the expected issuer/,
    ],
  ])("denied: %s", async (_n, claims, message) => {
    const f = fakeAuth(tokenFrom(glYaml("      - project_path: my-group/*\n")), { fetch: trustingFetch(gl) });
    const jwt = await gl.gitlab({ aud: CLUSTER, ...claims });
    const err = await gitlabJoinServer.handle(f.ctx, joinRequest("gitlab", "t1", jwt)).catch((e) => e);
    expect(err.message).toMatch(message);
    expect(f.finished).toEqual([]);
  });
});

describe("gitlab client half", () => {
  test("reads $TBOT_GITLAB_JWT, or the variable onboarding.gitlab names", async () => {
    expect(await gitlabJoinClient(undefined, { TBOT_GITLAB_JWT: "a.b.c\n" }).init()).toEqual({
      id_token: "a.b.c",
    });
    expect(
      await gitlabJoinClient({ tokenEnvVarName: "MINE" }, { MINE: "x.y.z", TBOT_GITLAB_JWT: "no" }).init(),
    ).toEqual({ id_token: "x.y.z" });
  });

  test("an unset variable: one line naming it", async () => {
    await expect(gitlabJoinClient(undefined, {}).init()).rejects.toThrow(
      /\$TBOT_GITLAB_JWT, which is not set/,
    );
    await expect(gitlabJoinClient({ tokenEnvVarName: "MINE" }, {}).init()).rejects.toThrow(/\$MINE/);
  });
});
