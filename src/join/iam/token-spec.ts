// spec.allow for join_method: iam (reference §9.3): which AWS identities may join, by account
// (12 digits) and/or ARN pattern ("*" and "?" wildcards). A rule with neither would match any
// AWS identity, so each rule needs one; aws_role and aws_regions are the ec2 method's and are
// refused here rather than silently ignored (the reference refuses them for iam too).

import type { Cursor } from "../../resources/cursor.ts";
import type { IamRule } from "./arn-glob.ts";

const ACCOUNT = /^\d{12}$/;
// arn:partition:service:region:account:resource — wildcards allowed in any part.
const ARN = /^arn:[a-z*?-]+:[a-z0-9*?-]+:[a-z0-9*?-]*:[0-9*?]*:\S+$/;

export function readIamAllow(node: Cursor, joinMethodNode: Cursor): IamRule[] {
  if (node.missing)
    joinMethodNode.fail(
      'join_method "iam" needs spec.allow with at least one rule (aws_account and/or aws_arn)',
    );
  const rules = node.list().map(readRule);
  if (rules.length === 0)
    node.fail("spec.allow needs at least one rule with aws_account or aws_arn for join_method iam");
  return rules;
}

function readRule(node: Cursor): IamRule {
  const fields = node
    .map()
    .strict(["aws_account", "aws_arn", "aws_role", "aws_regions", "aws_organization_arn"]);
  // Newer references match the account's AWS Organization, which needs Organizations API
  // calls with tauth's own AWS credentials: refused rather than silently ignored.
  if (fields.has("aws_organization_arn"))
    fields
      .get("aws_organization_arn")
      .fail(
        `${node.path}.aws_organization_arn is not supported by this build; list the accounts with aws_account`,
      );
  for (const ec2Only of ["aws_role", "aws_regions"])
    if (fields.has(ec2Only))
      fields
        .get(ec2Only)
        .fail(`${node.path}.${ec2Only} is used by the ec2 join method only, not iam; remove it`);
  const rule: IamRule = {};
  const account = fields.optStr("aws_account");
  if (account !== undefined) {
    if (!ACCOUNT.test(account))
      fields
        .get("aws_account")
        .fail(`${node.path}.aws_account must be a 12-digit AWS account ID, got "${account}"`);
    rule.aws_account = account;
  }
  const arn = fields.optStr("aws_arn");
  if (arn !== undefined) {
    if (!ARN.test(arn))
      fields
        .get("aws_arn")
        .fail(
          `${node.path}.aws_arn must be an ARN (arn:partition:service:region:account:resource, "*" and "?" allowed), got "${arn}"`,
        );
    rule.aws_arn = arn;
  }
  if (!account && !arn)
    node.fail(
      `${node.path} needs aws_account or aws_arn (or both); a rule with neither would match any AWS identity`,
    );
  return rule;
}
