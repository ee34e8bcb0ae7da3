// Token join, server half (reference §4): the token name is the secret. For bots it must
// carry the Bot role and a bot_name that exists, and it is single use: the join that uses it
// records, by compare-and-swap, the instance it made and the key it joined with, so two
// racing joins cannot both succeed. A join whose response was lost (a crash, a reset
// connection) may be made again with the same key while the token is within its lifetime and
// the instance unused: the bot gets its instance back instead of a burnt token.

import type { JoinRequest, JoinResponse } from "../../protocol/messages.ts";
import { accessDenied, badParameter, isCode } from "../../util/errors.ts";
import { validateBotTokenForJoin } from "../token-rules.ts";
import { type JoinContext, type JoinMethodServer, publicKeyId, type StoredTokenView } from "../types.ts";

function alreadyUsed(at: string): never {
  throw accessDenied(
    `join token was already used at ${at}; bot join tokens of the "token" method are single use. Create a new one with "tctl bots instances add <bot>"`,
  );
}

/** The same joiner again: the key it used, and an instance never used since. */
async function isLostResponse(ctx: JoinContext, found: StoredTokenView, bot: string, keyId: string) {
  return (
    !!found.consumedByKey &&
    !!found.consumedByInstance &&
    found.consumedByKey === keyId &&
    (await ctx.isUnusedInstance(bot, found.consumedByInstance))
  );
}

export const tokenJoinServer: JoinMethodServer = {
  method: "token",
  async handle(ctx: JoinContext, req: JoinRequest): Promise<JoinResponse> {
    const name = req.client_init.token_name;
    const found = await ctx.findToken(name);
    if (!found) throw accessDenied("join token expired or not found: ask the cluster operator for a new one");
    const { token } = found;
    if ((token.spec.join_method || "token") !== "token")
      throw badParameter(
        `join token uses the "${token.spec.join_method}" join method, not "token"; set onboarding.join_method accordingly`,
      );
    // Within the token's own lifetime, whether used or not.
    const bot = await validateBotTokenForJoin(ctx, token);
    const keyId = publicKeyId(req.bot_params.public_keys.tls_public_key);
    const common = {
      bot,
      tokenHint: "",
      joinMethod: "token",
      publicKeys: req.bot_params.public_keys,
      expires: new Date(req.bot_params.expires),
      isNewInstance: true,
    };
    if (found.consumedAt) {
      if (!(await isLostResponse(ctx, found, bot.metadata.name, keyId))) alreadyUsed(found.consumedAt);
      return ctx.finishBotJoin({ ...common, instanceId: found.consumedByInstance!, again: true });
    }
    const instanceId = ctx.newInstanceId();
    let raced: StoredTokenView | null = null;
    try {
      return await ctx.finishBotJoin({
        ...common,
        instanceId,
        commit: async () => {
          try {
            await ctx.consumeToken(name, found.revision, instanceId, keyId);
          } catch (e) {
            if (!isCode(e, "compare_failed")) throw e;
            raced = await ctx.findToken(name);
            throw e;
          }
        },
      });
    } catch (e) {
      if (!raced) throw e;
      // Lost the race. To our own earlier attempt (a client retry while the first was still
      // in flight)? Then this is its lost response; to anyone else, the token is used.
      const other = raced as StoredTokenView;
      if (other.consumedAt && (await isLostResponse(ctx, other, bot.metadata.name, keyId)))
        return ctx.finishBotJoin({ ...common, instanceId: other.consumedByInstance!, again: true });
      throw accessDenied("join token was already used by a concurrent join; bot join tokens are single use");
    }
  },
};
