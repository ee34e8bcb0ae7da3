// Token join, client half: the token itself is the proof, so the first message is all.

import type { JoinMethodClient } from "../client.ts";

export const tokenJoinClient: JoinMethodClient = {
  method: "token",
  init: async () => undefined,
};
