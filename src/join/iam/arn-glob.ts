// allow[] matching for iam tokens (the reference's checkIAMAllowRules): a rule matches when
// each field it sets matches — aws_account exactly, aws_arn as a pattern where "*" matches any
// run of characters (including none, and ":" and "/") and "?" exactly one, as in IAM policy
// resource ARNs; the whole ARN must match. Any one rule suffices.

export interface IamRule {
  aws_account?: string;
  aws_arn?: string;
}

export interface AwsIdentity {
  account: string;
  arn: string;
}

export function arnMatches(pattern: string, arn: string): boolean {
  // Iterative glob with backtracking over the last "*": linear-ish, no regular expression
  // built from operator input.
  let p = 0;
  let s = 0;
  let star = -1;
  let mark = 0;
  while (s < arn.length) {
    if (p < pattern.length && (pattern[p] === "?" || pattern[p] === arn[s])) {
      p++;
      s++;
    } else if (p < pattern.length && pattern[p] === "*") {
      star = p++;
      mark = s;
    } else if (star >= 0) {
      p = star + 1;
      s = ++mark;
    } else return false;
  }
  while (p < pattern.length && pattern[p] === "*") p++;
  return p === pattern.length;
}

export function ruleMatches(rule: IamRule, id: AwsIdentity): boolean {
  if (rule.aws_account && rule.aws_account !== id.account) return false;
  if (rule.aws_arn && !arnMatches(rule.aws_arn, id.arn)) return false;
  return !!(rule.aws_account || rule.aws_arn);
}

export function anyRuleMatches(rules: readonly IamRule[], id: AwsIdentity): boolean {
  return rules.some((r) => ruleMatches(r, id));
}
