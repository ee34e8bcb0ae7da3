// `onboarding.gitlab` in tbot.yaml (reference §1.3): the job variable holding the ID token,
// default TBOT_GITLAB_JWT (what the reference's guide names in `id_tokens:`).

import type { YNode } from "../../util/yaml-source.ts";
import type { OnboardingBlock, OnboardingReadKit } from "../descriptor.ts";

export const DEFAULT_GITLAB_TOKEN_ENV = "TBOT_GITLAB_JWT";

export interface GitlabOnboarding {
  tokenEnvVarName?: string;
}

function read(n: YNode, kit: OnboardingReadKit): GitlabOnboarding {
  const m = n.map().strict(["token_env_var_name"]);
  kit.note("onboarding.gitlab", n);
  const out: GitlabOnboarding = {};
  if (m.has("token_env_var_name")) {
    const v = m.get("token_env_var_name");
    const name = kit.nonEmptyText(v);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
      v.fail(`${v.path} must be an environment variable name (letters, digits and _), got "${name}"`);
    out.tokenEnvVarName = name;
    kit.note("onboarding.gitlab.token_env_var_name", v);
  }
  return out;
}

export const gitlabOnboarding: OnboardingBlock<GitlabOnboarding> = {
  key: "gitlab",
  field: "gitlab",
  read,
  render: (g) => (g.tokenEnvVarName !== undefined ? { token_env_var_name: g.tokenEnvVarName } : {}),
  resolvePaths: () => undefined,
};
