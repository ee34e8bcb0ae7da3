// The token join method's descriptor (see ../descriptor.ts): no token-spec block, no
// onboarding block; the token's name is the proof.

import type { JoinMethodDescriptor } from "../descriptor.ts";

export const tokenMethod: JoinMethodDescriptor = {
  name: "token",
  // Single use: the identity it gives is renewed with the generation counter, not by joining.
  renewable: true,
  client: async () => (await import("./client.ts")).tokenJoinClient,
  server: async () => (await import("./server.ts")).tokenJoinServer,
};
