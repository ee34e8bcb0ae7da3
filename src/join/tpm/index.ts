// The TPM join method's descriptor (see ../descriptor.ts). Its client half loads libtss2 only
// when a TPM join actually runs.

import type { JoinMethodDescriptor } from "../descriptor.ts";
import { TPM } from "./messages.ts";
import { readTpm } from "./token-spec.ts";

export const tpmMethod: JoinMethodDescriptor = {
  name: TPM,
  // Renewed by joining again with the TPM, which keeps the bot instance.
  renewable: false,
  tokenSpec: { key: TPM, read: readTpm },
  client: async (o) => (await import("./client.ts")).tpmJoinClient({ ...(o.debug ? { debug: true } : {}) }),
  server: async () => (await import("./server.ts")).tpmJoinServer,
};
