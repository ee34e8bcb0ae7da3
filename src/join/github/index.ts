// The github join method's descriptor (see ../descriptor.ts): GitHub Actions ID tokens.
// No onboarding block: the token comes from the Actions runtime's environment.

import type { JoinMethodDescriptor } from "../descriptor.ts";
import { readGithub } from "./token-spec.ts";

export const githubMethod: JoinMethodDescriptor = {
  name: "github",
  // Non-renewable: a daemon re-joins with a fresh ID token (over mTLS, keeping its instance).
  renewable: false,
  tokenSpec: { key: "github", read: readGithub },
  client: async (o) => (await import("./client.ts")).githubJoinClient(o.clusterName),
  server: async () => (await import("./server.ts")).githubJoinServer,
};
