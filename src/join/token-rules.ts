// Rules every bot join token obeys whatever its method (reference §4.1 step 3).

import type { BotResource, TokenResource } from "../resources/types.ts";
import { accessDenied, badParameter, notFound } from "../util/errors.ts";
import type { JoinContext } from "./types.ts";

export async function validateBotTokenForJoin(ctx: JoinContext, token: TokenResource): Promise<BotResource> {
  const exp = token.metadata.expires ? Date.parse(token.metadata.expires) : Number.POSITIVE_INFINITY;
  if (exp <= ctx.now())
    throw accessDenied(
      `join token expired at ${token.metadata.expires}; ask the cluster operator for a new one`,
    );
  if (!token.spec.roles.includes("Bot"))
    throw accessDenied(`join token does not allow the Bot role (roles: ${token.spec.roles.join(", ")})`);
  if (!token.spec.bot_name) throw badParameter("join token has the Bot role but no bot_name");
  const bot = await ctx.getBot(token.spec.bot_name);
  if (!bot)
    throw notFound(
      `join token names bot "${token.spec.bot_name}", which does not exist; create it with "tctl bots add ${token.spec.bot_name}"`,
    );
  return bot;
}
