// IAM joining, server half (reference §3 iam, lib/auth/join_iam.go): answer the first
// message with a random challenge (in a single-use continuation); the client signs an
// sts:GetCallerIdentity request carrying it in a signed header. The request is checked
// (check-request.ts: the STS host before anything else), sent to that STS endpoint, and the
// identity STS answers with is matched against the token's allow rules. No AWS credentials
// are needed here: STS itself verifies the client's signature. Certificates are not
// renewable; the bot re-joins, and an authenticated re-join keeps its instance.

import { randomBytes } from "node:crypto";
import type { JoinRequest, JoinResponse } from "../../protocol/messages.ts";
import { accessDenied, badParameter, connectionProblem, UserError } from "../../util/errors.ts";
import { validateBotTokenForJoin } from "../token-rules.ts";
import type { JoinContext, JoinMethodServer } from "../types.ts";
import type { IamRule } from "./arn-glob.ts";
import { type AwsIdentity, anyRuleMatches } from "./arn-glob.ts";
import { checkStsRequest } from "./check-request.ts";
import { IAM, type IamChallenge, type IamSolution } from "./messages.ts";
import { extraStsHosts } from "./sts-hosts.ts";
import { parseError, parseIdentity } from "./sts-response.ts";

const CHALLENGE_TTL_MS = 60_000;
const STS_TIMEOUT_MS = 15_000;
const MAX_STS_RESPONSE = 64 * 1024;

async function iamToken(ctx: JoinContext, name: string) {
  const found = await ctx.findToken(name);
  if (!found) throw accessDenied("join token expired or not found: ask the cluster operator for a new one");
  const t = found.token;
  if (t.spec.join_method !== IAM)
    throw badParameter(
      `join token uses the "${t.spec.join_method}" join method, not "iam"; set onboarding.join_method accordingly`,
    );
  const bot = await validateBotTokenForJoin(ctx, t);
  const rules = t.spec.allow as IamRule[] | undefined;
  if (!rules?.length) throw new UserError(`token "${name}" has no iam allow rules`, "internal");
  return { bot, rules };
}

async function begin(ctx: JoinContext, req: JoinRequest): Promise<JoinResponse> {
  await iamToken(ctx, req.client_init.token_name);
  const challenge = randomBytes(32).toString("base64").replace(/=+$/, "");
  const ch: IamChallenge = { type: "iam_challenge", challenge };
  return {
    type: "challenge",
    continuation: await ctx.issueContinuation({ challenge }, CHALLENGE_TTL_MS),
    challenge: { ...ch },
  };
}

/** Sends the checked request to STS and reads the identity it answers with. */
async function callSts(ctx: JoinContext, r: ReturnType<typeof checkStsRequest>): Promise<AwsIdentity> {
  let res: Response;
  try {
    res = await ctx.fetch(r.url, {
      method: "POST",
      headers: r.headers,
      body: r.body,
      redirect: "manual",
      signal: AbortSignal.timeout(STS_TIMEOUT_MS),
    });
  } catch (e) {
    throw connectionProblem(
      `STS at ${r.host} could not be reached to verify the IAM join: ${(e as Error).message}`,
    );
  }
  const text = (await res.text()).slice(0, MAX_STS_RESPONSE);
  if (res.status !== 200) {
    const { code, message } = parseError(text);
    throw accessDenied(
      `STS at ${r.host} refused the signed GetCallerIdentity request: ${code}${message ? ` (${message})` : ""}`,
    );
  }
  const id = parseIdentity(text);
  if (!id?.account || !id.arn) throw accessDenied(`STS at ${r.host} answered without an account and ARN`);
  return { account: id.account, arn: id.arn };
}

export function makeIamJoinServer(extraHosts: () => readonly string[]): JoinMethodServer {
  return {
    method: IAM,
    async handle(ctx, req) {
      if (!req.continuation) return begin(ctx, req);
      // Single use: a second answer to the same challenge is refused here.
      const state = await ctx.redeemContinuation(req.continuation);
      const sol = req.solution as unknown as IamSolution | undefined;
      if (sol?.type !== "iam_solution")
        throw badParameter("expected an iam_solution with the signed sts_identity_request");
      const checked = checkStsRequest(sol.sts_identity_request, String(state.challenge ?? ""), extraHosts());
      const name = req.client_init.token_name;
      const { bot, rules } = await iamToken(ctx, name);
      const id = await callSts(ctx, checked);
      if (!anyRuleMatches(rules, id))
        throw accessDenied(
          `AWS identity ${id.arn} (account ${id.account}) did not match any allow rule of token "${name}"`,
        );
      const refresh = ctx.caller?.botName === bot.metadata.name && !!ctx.caller.botInstanceId;
      ctx.audit("iam.join", {
        token: name,
        bot: bot.metadata.name,
        aws_account: id.account,
        aws_arn: id.arn,
      });
      return ctx.finishBotJoin({
        bot,
        tokenHint: name,
        joinMethod: IAM,
        publicKeys: req.bot_params.public_keys,
        expires: new Date(req.bot_params.expires),
        instanceId: refresh ? ctx.caller!.botInstanceId! : ctx.newInstanceId(),
        isNewInstance: !refresh,
        methodResult: { aws_account: id.account, aws_arn: id.arn },
        joinAttributes: { iam: { account: id.account, arn: id.arn } },
      });
    },
  };
}

/** Production: AWS's endpoints plus TAUTH_STS_ENDPOINTS (read once; tauth checked it at start). */
let hosts: string[] | undefined;
export const iamJoinServer = makeIamJoinServer(() => (hosts ??= extraStsHosts()));
