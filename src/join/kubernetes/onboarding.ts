// `onboarding.kubernetes` in tbot.yaml (reference §1.3): where the projected service-account
// token is. Default: KUBERNETES_TOKEN_PATH, else the standard mount path; a path set here wins.

import type { YNode } from "../../util/yaml-source.ts";
import type { OnboardingBlock, OnboardingReadKit } from "../descriptor.ts";

export const DEFAULT_KUBERNETES_TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount/token";

export interface KubernetesOnboarding {
  tokenPath?: string;
}

function read(n: YNode, kit: OnboardingReadKit): KubernetesOnboarding {
  const m = n.map().strict(["token_path"]);
  kit.note("onboarding.kubernetes", n);
  const out: KubernetesOnboarding = {};
  if (m.has("token_path")) {
    out.tokenPath = kit.nonEmptyText(m.get("token_path"));
    kit.note("onboarding.kubernetes.token_path", m.get("token_path"));
  }
  return out;
}

export const kubernetesOnboarding: OnboardingBlock<KubernetesOnboarding> = {
  key: "kubernetes",
  field: "kubernetes",
  read,
  render: (k) => (k.tokenPath !== undefined ? { token_path: k.tokenPath } : {}),
  resolvePaths(k, abs) {
    if (k.tokenPath !== undefined) k.tokenPath = abs(k.tokenPath);
  },
};
