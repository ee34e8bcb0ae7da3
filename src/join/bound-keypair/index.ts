// The bound keypair join method's descriptor (see ../descriptor.ts).

import type { JoinMethodDescriptor } from "../descriptor.ts";
import { BOUND_KEYPAIR } from "./messages.ts";
import { boundKeypairOnboarding } from "./onboarding.ts";
import { readBoundKeypair } from "./token-spec.ts";

export const boundKeypairMethod: JoinMethodDescriptor = {
  name: BOUND_KEYPAIR,
  // Renewed by joining again: each join is checked against the bound key and join state.
  renewable: false,
  tokenSpec: { key: BOUND_KEYPAIR, read: (node) => readBoundKeypair(node) },
  onboarding: boundKeypairOnboarding as JoinMethodDescriptor["onboarding"],
  client: async (o) => (await import("./client-options.ts")).boundKeypairClientFrom(o),
  server: async () => (await import("./server.ts")).boundKeypairJoinServer,
};
