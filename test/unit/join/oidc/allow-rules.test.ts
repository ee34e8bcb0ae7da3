// Allow rules: any rule suffices, every configured field of a rule must match, exact by
// default, the reference's glob on GitLab's path fields, GitLab's string booleans, the
// kubernetes service account from sub; denials name the failing claim of the closest rule.

import { describe, expect, test } from "bun:test";
import {
  GITHUB_ALLOW,
  GITLAB_ALLOW,
  KUBERNETES_ALLOW,
  matchAllowRules,
  validateAllowRules,
} from "../../../../src/join/oidc/allow-rules.ts";
import { globMatch } from "../../../../src/join/oidc/glob.ts";
import { githubIssuer, gitlabIssuer } from "../../../../src/join/oidc/issuers.ts";
import { UserError } from "../../../../src/util/errors.ts";

const gh = {
  sub: "repo:acme/app:environment:prod",
  repository: "acme/app",
  repository_owner: "acme",
  workflow: "deploy",
  environment: "prod",
  actor: "alice",
  ref: "refs/heads/main",
  ref_type: "branch",
  secret_looking_claim: "do-not-echo-me",
};

function deniedWith(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    expect((e as UserError).code).toBe("access_denied");
    const m = (e as Error).message;
    expect(m).not.toContain("\n");
    expect(m).not.toContain("do-not-echo-me");
    return m;
  }
  throw new Error("expected a denial");
}

describe("github (exact)", () => {
  test("any rule suffices; the matching rule's index is returned", () => {
    const rules = [{ repository: "acme/other" }, { repository: "acme/app", environment: "prod" }];
    expect(matchAllowRules(GITHUB_ALLOW, rules, gh).ruleIndex).toBe(1);
  });

  test("every configured field of a rule must match", () => {
    const m = deniedWith(() =>
      matchAllowRules(GITHUB_ALLOW, [{ repository: "acme/app", ref: "refs/heads/dev" }], gh),
    );
    expect(m).toBe('ref "refs/heads/main" does not match any allow rule (allowed: "refs/heads/dev")');
  });

  test("the denial names the first failing claim of the closest rule, with the values allowed", () => {
    const rules = [
      { repository_owner: "other" },
      { repository: "acme/api", workflow: "deploy", actor: "alice" },
    ];
    const m = deniedWith(() => matchAllowRules(GITHUB_ALLOW, rules, gh));
    expect(m).toBe('repository "acme/app" does not match any allow rule (allowed: "acme/api")');
  });

  test("comparison is exact: no prefix, case or glob", () => {
    for (const repository of ["acme/ap", "Acme/app", "acme/*", "acme/app "])
      deniedWith(() => matchAllowRules(GITHUB_ALLOW, [{ repository }], gh));
  });

  test("a missing claim fails a configured field and shows as absent", () => {
    const { environment: _, ...noEnv } = gh;
    const m = deniedWith(() =>
      matchAllowRules(GITHUB_ALLOW, [{ repository: "acme/app", environment: "prod" }], noEnv),
    );
    expect(m).toContain("environment (absent)");
  });

  test("empty rules and rules with unknown fields never match", () => {
    expect(deniedWith(() => matchAllowRules(GITHUB_ALLOW, [], gh))).toContain("has no allow rules");
    const m = deniedWith(() =>
      matchAllowRules(GITHUB_ALLOW, [{}, { repository: "acme/app", repo: "x" }], gh),
    );
    expect(m).toContain("no usable allow rule");
  });

  test("many allowed values are listed short", () => {
    const rules = Array.from({ length: 40 }, (_, i) => ({ repository: `acme/r${i}` }));
    const m = deniedWith(() => matchAllowRules(GITHUB_ALLOW, rules, gh));
    expect(m).toContain("…35 more");
    expect(m.length).toBeLessThan(300);
  });
});

describe("gitlab (glob, booleans)", () => {
  const gl = {
    sub: "project_path:group/sub/app:ref_type:branch:ref:main",
    project_path: "group/sub/app",
    namespace_path: "group/sub",
    ref: "main",
    ref_type: "branch",
    ref_protected: "true",
    environment_protected: "false",
    pipeline_source: "push",
  };

  test("glob on project_path, namespace_path, ref and sub", () => {
    expect(matchAllowRules(GITLAB_ALLOW, [{ project_path: "group/*" }], gl).ruleIndex).toBe(0);
    expect(matchAllowRules(GITLAB_ALLOW, [{ namespace_path: "group/su?" }], gl).ruleIndex).toBe(0);
    expect(matchAllowRules(GITLAB_ALLOW, [{ sub: "project_path:group/*:ref:main" }], gl).ruleIndex).toBe(0);
    const m = deniedWith(() => matchAllowRules(GITLAB_ALLOW, [{ project_path: "other/*", ref: "ma*" }], gl));
    expect(m).toBe(
      'project_path "group/sub/app" does not match any allow rule (allowed patterns: "other/*")',
    );
  });

  test("fields without glob in the reference are exact", () => {
    deniedWith(() =>
      matchAllowRules(GITLAB_ALLOW, [{ project_path: "group/*", pipeline_source: "pu*" }], gl),
    );
  });

  test('ref_protected / environment_protected compare with the token\'s "true"/"false"', () => {
    expect(
      matchAllowRules(GITLAB_ALLOW, [{ project_path: "group/sub/app", ref_protected: true }], gl).ruleIndex,
    ).toBe(0);
    expect(
      matchAllowRules(GITLAB_ALLOW, [{ project_path: "group/sub/app", environment_protected: false }], gl)
        .ruleIndex,
    ).toBe(0);
    const m = deniedWith(() =>
      matchAllowRules(GITLAB_ALLOW, [{ project_path: "group/sub/app", ref_protected: false }], gl),
    );
    expect(m).toBe('ref_protected "true" does not match any allow rule (allowed: false)');
  });
});

describe("kubernetes (service_account from sub)", () => {
  const k8s = { sub: "system:serviceaccount:ci:deployer" };
  test("namespace:name compared with the service account in sub", () => {
    expect(matchAllowRules(KUBERNETES_ALLOW, [{ service_account: "ci:deployer" }], k8s).ruleIndex).toBe(0);
    const m = deniedWith(() => matchAllowRules(KUBERNETES_ALLOW, [{ service_account: "ci:other" }], k8s));
    expect(m).toBe(
      'service_account "ci:deployer" (from "sub") does not match any allow rule (allowed: "ci:other")',
    );
    deniedWith(() =>
      matchAllowRules(KUBERNETES_ALLOW, [{ service_account: "ci:deployer" }], { sub: "ci:deployer" }),
    );
  });
});

describe("validateAllowRules", () => {
  test("accepts good rules", () => {
    validateAllowRules(GITHUB_ALLOW, [{ repository: "acme/app" }, { sub: "x", ref: "y" }]);
    validateAllowRules(GITLAB_ALLOW, [{ project_path: "g/*", ref_protected: true }]);
    validateAllowRules(KUBERNETES_ALLOW, [{ service_account: "ns:name" }]);
  });
  const bad: [string, unknown, string][] = [
    ["no rules", [], "at least one rule"],
    ["an empty rule", [{}], "github.allow[0] sets no field"],
    ["an unknown field", [{ repository: "a/b", repo: "x" }], 'github.allow[0]: unknown field "repo"'],
    ["a wrong type", [{ repository: 3 }], "github.allow[0].repository must be a string"],
    [
      "only a weak field",
      [{ ref: "refs/heads/main" }],
      "must set at least one of sub, repository, repository_owner",
    ],
    ["not a mapping", ["acme/app"], "must be a mapping"],
  ];
  for (const [name, rules, msg] of bad)
    test(`refuses ${name}`, () => {
      expect(() => validateAllowRules(GITHUB_ALLOW, rules)).toThrow(msg);
    });
  test("gitlab booleans must be booleans", () => {
    expect(() => validateAllowRules(GITLAB_ALLOW, [{ project_path: "a", ref_protected: "true" }])).toThrow(
      "ref_protected must be a boolean",
    );
  });
});

describe("glob", () => {
  const cases: [string, string, boolean][] = [
    ["", "", true],
    ["", "a", false],
    ["*", "", true],
    ["*", "anything/at/all", true],
    ["?est-*-foo", "test-string-foo", true],
    ["?est-*-foo", "ttest-bar-ffoo", false],
    ["a*b*c", "aXXbYYc", true],
    ["a*b*c", "aXXbYY", false],
    ["group/*", "group/", true],
    ["group/*", "group", false],
    ["a?c", "abc", true],
    ["a?c", "ac", false],
    ["a.c", "abc", false], // regex metacharacters are literal
    ["x+", "xx", false],
    ["é?", "éé", true], // ? is one character, not one UTF-16 unit
  ];
  for (const [p, t, want] of cases)
    test(`${JSON.stringify(p)} vs ${JSON.stringify(t)} → ${want}`, () => {
      expect(globMatch(p, t)).toBe(want);
    });
  test("a pathological pattern stays fast", () => {
    const t0 = performance.now();
    expect(globMatch(`${"*a".repeat(100)}b`, "a".repeat(2000))).toBe(false);
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});

describe("issuers", () => {
  test("github, enterprise slug, GHES; gitlab default and self-hosted", () => {
    expect(githubIssuer()).toBe("https://token.actions.githubusercontent.com");
    expect(githubIssuer({ enterpriseSlug: "acme" })).toBe("https://token.actions.githubusercontent.com/acme");
    expect(githubIssuer({ enterpriseServerHost: "ghe.example.com" })).toBe(
      "https://ghe.example.com/_services/token",
    );
    expect(() => githubIssuer({ enterpriseServerHost: "a.b", enterpriseSlug: "x" })).toThrow(
      "cannot both be set",
    );
    expect(() => githubIssuer({ enterpriseServerHost: "https://ghe.example.com/" })).toThrow("host name");
    expect(gitlabIssuer()).toBe("https://gitlab.com");
    expect(gitlabIssuer("gitlab.example.com:8443")).toBe("https://gitlab.example.com:8443");
    expect(() => gitlabIssuer("gitlab.example.com/evil")).toThrow("host name");
  });
});
