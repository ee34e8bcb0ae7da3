// Token join, server half (reference §4): the token name is the secret. For bots it must
// carry the Bot role and a bot_name that exists, and it is single use: the first join
// marks it used by compare-and-swap, so two racing joins cannot both succeed.

import type { JoinRequest, JoinResponse } from "../../protocol/messages.ts";
import { accessDenied, badParameter, isCode } from "../../util/errors.ts";
import { validateBotTokenForJoin } from "../token-rules.ts";
import type { JoinContext, JoinMethodServer } from "../types.ts";

export const tokenJoinServer: JoinMethodServer = {
  method: "token",
  async handle(ctx: JoinContext, req: JoinRequest): Promise<JoinResponse> {
    const name = req.client_init.token_name;
    const found = await ctx.findToken(name);
    if (!found) throw accessDenied("join token expired or not found: ask the cluster operator for a new one");
    if (found.consumedAt)
      throw accessDenied(
        `join token was already used at ${found.consumedAt}; bot join tokens of the "token" method are single use. Create a new one with "tctl bots instances add <bot>"`,
      );
    const { token } = found;
    if ((token.spec.join_method || "token") !== "token")
      throw badParameter(
        `join token uses the "${token.spec.join_method}" join method, not "token"; set onboarding.join_method accordingly`,
      );
    const bot = await validateBotTokenForJoin(ctx, token);
    const instanceId = ctx.newInstanceId();
    try {
      await ctx.consumeToken(name, found.revision, instanceId);
    } catch (e) {
      if (isCode(e, "compare_failed"))
        throw accessDenied(
          "join token was already used by a concurrent join; bot join tokens are single use",
        );
      throw e;
    }
    return ctx.finishBotJoin({
      bot,
      tokenHint: "",
      joinMethod: "token",
      renewable: true,
      publicKeys: req.bot_params.public_keys,
      expires: new Date(req.bot_params.expires),
      instanceId,
      isNewInstance: true,
    });
  },
};
