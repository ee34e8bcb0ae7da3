// iam: ARN wildcard matching, allow-rule semantics, the STS host allow-list and the token's
// spec.allow validation at `tctl create` (parseResources, which tctl create runs).

import { describe, expect, test } from "bun:test";
import { parseResources, type TokenResource } from "../../../src/auth/resources/index.ts";
import { anyRuleMatches, arnMatches } from "../../../src/join/iam/arn-glob.ts";
import { extraStsHosts, isAllowedStsHost, stsEndpointForRegion } from "../../../src/join/iam/sts-hosts.ts";

describe("aws_arn wildcards", () => {
  const role = "arn:aws:sts::123456789012:assumed-role/deploy/i-0abc";
  test.each([
    ["arn:aws:sts::123456789012:assumed-role/deploy/*", role, true],
    ["arn:aws:sts::123456789012:assumed-role/*", role, true], // "*" crosses "/"
    ["arn:aws:sts::*:assumed-role/deploy/i-0abc", role, true], // and ":" parts
    ["arn:aws:sts::123456789012:assumed-role/deploy/i-0ab?", role, true],
    ["arn:aws:sts::123456789012:assumed-role/deploy/i-0a?", role, false], // "?" is exactly one
    ["arn:aws:sts::123456789012:assumed-role/deploy", role, false], // the whole ARN must match
    ["arn:aws:sts::123456789012:assumed-role/deploy/i-0abc", role, true],
    ["*", role, true],
    ["arn:aws:sts::123456789012:assumed-role/*/i-0abc", role, true],
    ["arn:aws:sts::123456789012:assumed-role/deploy/*x", role, false],
    ["arn:aws:iam::123456789012:user/alice", "arn:aws:iam::123456789012:user/alice2", false],
    ["a*b*c", "axxbyyc", true],
    ["a*b*c", "axxbyy", false],
  ])("%p against %p → %p", (pattern, arn, want) => {
    expect(arnMatches(pattern, arn)).toBe(want);
  });

  test("a long run of stars does not blow up", () => {
    const t = performance.now();
    expect(arnMatches(`${"*a".repeat(40)}b`, "a".repeat(5000))).toBe(false);
    expect(performance.now() - t).toBeLessThan(2000);
  });

  test("each field a rule sets must match; any rule suffices", () => {
    const id = { account: "123456789012", arn: "arn:aws:iam::123456789012:user/alice" };
    expect(anyRuleMatches([{ aws_account: "123456789012" }], id)).toBe(true);
    expect(anyRuleMatches([{ aws_account: "210987654321" }], id)).toBe(false);
    expect(
      anyRuleMatches([{ aws_account: "123456789012", aws_arn: "arn:aws:iam::123456789012:user/bob" }], id),
    ).toBe(false);
    expect(
      anyRuleMatches([{ aws_account: "210987654321" }, { aws_arn: "arn:aws:iam::*:user/alice" }], id),
    ).toBe(true);
    expect(anyRuleMatches([{}], id)).toBe(false);
  });
});

describe("STS host allow-list", () => {
  test.each([
    ["sts.amazonaws.com", true],
    ["sts.amazonaws.com:443", true],
    ["STS.US-EAST-2.AMAZONAWS.COM", true],
    ["sts.eu-west-1.amazonaws.com", true],
    ["sts-fips.us-east-1.amazonaws.com", true],
    ["sts.us-gov-west-1.amazonaws.com", true],
    ["sts.cn-north-1.amazonaws.com.cn", true],
    ["sts.cn-north-1.amazonaws.com", false],
    ["sts.us-east-1.amazonaws.com.cn", false],
    ["sts.amazonaws.com:8443", false],
    ["sts.s3-website-us-east-1.amazonaws.com", false],
    ["sts.evil.amazonaws.com", false],
    ["sts.us-east-1.amazonaws.com.evil.example", false],
    ["evil.example", false],
    ["127.0.0.1:4443", false],
    ["sts.amazonaws.com.", false],
  ])("%p → %p", (host, want) => {
    expect(isAllowedStsHost(host)).toBe(want);
  });

  test("TAUTH_STS_ENDPOINTS adds exact hosts; malformed entries are refused", () => {
    const extra = extraStsHosts({ TAUTH_STS_ENDPOINTS: "https://127.0.0.1:4443, sts.internal.example" });
    expect(extra).toEqual(["127.0.0.1:4443", "sts.internal.example"]);
    expect(isAllowedStsHost("127.0.0.1:4443", extra)).toBe(true);
    expect(isAllowedStsHost("127.0.0.1:4444", extra)).toBe(false);
    expect(extraStsHosts({})).toEqual([]);
    expect(() => extraStsHosts({ TAUTH_STS_ENDPOINTS: "http://127.0.0.1:1" })).toThrow("must be https://");
    expect(() => extraStsHosts({ TAUTH_STS_ENDPOINTS: "https://h/path" })).toThrow("no path");
  });

  test("regional endpoints as the SDKs resolve them", () => {
    expect(stsEndpointForRegion("eu-central-1")).toBe("https://sts.eu-central-1.amazonaws.com");
    expect(stsEndpointForRegion("cn-northwest-1")).toBe("https://sts.cn-northwest-1.amazonaws.com.cn");
  });
});

describe("spec.allow of an iam token", () => {
  const head =
    "kind: token\nversion: v2\nmetadata: {name: iam-token}\nspec:\n  roles: [Bot]\n  bot_name: b\n  join_method: iam\n";
  const parse = (extra: string) => parseResources(`${head}${extra}`, "t.yaml") as TokenResource[];
  const fails = (extra: string) => {
    try {
      parse(extra);
    } catch (e) {
      const msg = (e as Error).message;
      expect(msg.split("\n")).toHaveLength(1);
      return msg;
    }
    throw new Error("accepted");
  };

  test("rules are read and stored", () => {
    const [t] = parse(
      '  allow:\n    - aws_account: "123456789012"\n      aws_arn: "arn:aws:sts::123456789012:assumed-role/role/*"\n    - aws_arn: "arn:aws:iam::*:user/ci-?"\n',
    );
    expect(t!.spec.allow).toEqual([
      { aws_account: "123456789012", aws_arn: "arn:aws:sts::123456789012:assumed-role/role/*" },
      { aws_arn: "arn:aws:iam::*:user/ci-?" },
    ]);
  });

  test.each([
    ["", "t.yaml:7:16:", "needs spec.allow"],
    ["  allow: []\n", "t.yaml:8:10:", "at least one rule"],
    ['  allow:\n    - aws_account: "12345"\n', "t.yaml:9:20:", "12-digit AWS account ID"],
    ['  allow:\n    - aws_arn: "role/*"\n', "t.yaml:9:16:", "must be an ARN"],
    ["  allow:\n    - {}\n", "t.yaml:9:7:", "needs aws_account or aws_arn"],
    [
      '  allow:\n    - aws_account: "123456789012"\n      aws_role: r\n',
      "t.yaml:10:17:",
      "ec2 join method only",
    ],
    [
      '  allow:\n    - aws_organization_arn: "arn:aws:organizations::123456789012:organization/o-abcde12345"\n',
      "t.yaml:9:29:",
      "aws_organization_arn is not supported by this build",
    ],
    ['  allow:\n    - aws_acount: "123456789012"\n', "t.yaml:9:7:", 'did you mean "aws_account"'],
  ])("%p is refused at its place", (extra, where, says) => {
    const msg = fails(extra);
    expect(msg).toContain(where);
    expect(msg).toContain(says);
  });

  test("an ec2 token keeps its allow rules as written; an empty allow list is kept for any method", () => {
    const [ec2] = parseResources(
      'kind: token\nversion: v2\nmetadata: {name: n}\nspec:\n  roles: [Node]\n  join_method: ec2\n  allow: [{aws_account: "123", aws_role: r}]\n',
      "t.yaml",
    ) as TokenResource[];
    expect(ec2!.spec.allow).toEqual([{ aws_account: "123", aws_role: "r" }]);
    const [legacy] = parseResources(
      'kind: token\nversion: v2\nmetadata: {name: n}\nspec:\n  roles: [Node]\n  allow: [{aws_account: "123"}]\n',
      "t.yaml",
    ) as TokenResource[];
    expect(legacy!.spec.join_method).toBe("ec2");
    const msg = (() => {
      try {
        parseResources(
          'kind: token\nversion: v2\nmetadata: {name: n}\nspec:\n  roles: [Bot]\n  bot_name: b\n  join_method: bound_keypair\n  allow: [{aws_account: "123456789012"}]\n',
          "t.yaml",
        );
      } catch (e) {
        return (e as Error).message;
      }
      return "accepted";
    })();
    expect(msg).toContain("spec.allow is only used with join_method: iam");
  });
});
