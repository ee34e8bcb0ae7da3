// The kubernetes join method's descriptor (see ../descriptor.ts): projected service-account
// tokens, types static_jwks and oidc.

import type { JoinMethodDescriptor } from "../descriptor.ts";
import { type KubernetesOnboarding, kubernetesOnboarding } from "./onboarding.ts";
import { readKubernetes } from "./token-spec.ts";

export const kubernetesMethod: JoinMethodDescriptor = {
  name: "kubernetes",
  // Non-renewable: a daemon re-joins with the current projected token (keeping its instance).
  renewable: false,
  tokenSpec: { key: "kubernetes", read: readKubernetes },
  onboarding: kubernetesOnboarding as JoinMethodDescriptor["onboarding"],
  client: async (o) =>
    (await import("./client.ts")).kubernetesJoinClient(o.settings as KubernetesOnboarding | undefined),
  server: async () => (await import("./server.ts")).kubernetesJoinServer,
};
