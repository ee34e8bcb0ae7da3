// The gitlab join method's descriptor (see ../descriptor.ts): GitLab CI ID tokens.

import type { JoinMethodDescriptor } from "../descriptor.ts";
import { type GitlabOnboarding, gitlabOnboarding } from "./onboarding.ts";
import { readGitlab } from "./token-spec.ts";

export const gitlabMethod: JoinMethodDescriptor = {
  name: "gitlab",
  // Non-renewable: a daemon re-joins with the job's ID token (over mTLS, keeping its instance).
  renewable: false,
  tokenSpec: { key: "gitlab", read: readGitlab },
  onboarding: gitlabOnboarding as JoinMethodDescriptor["onboarding"],
  client: async (o) =>
    (await import("./client.ts")).gitlabJoinClient(o.settings as GitlabOnboarding | undefined),
  server: async () => (await import("./server.ts")).gitlabJoinServer,
};
