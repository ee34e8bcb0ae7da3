// GitLab join, client half: GitLab injects the job's ID token (configured under `id_tokens:`
// with `aud:` the cluster name) into an environment variable; send it. Read again at every
// join, though within one job it is the same token (GitLab mints it per job).

import { UserError } from "../../util/errors.ts";
import type { JoinMethodClient } from "../client.ts";
import { DEFAULT_GITLAB_TOKEN_ENV, type GitlabOnboarding } from "./onboarding.ts";

export function gitlabJoinClient(
  settings: GitlabOnboarding | undefined,
  env: Record<string, string | undefined> = process.env,
): JoinMethodClient {
  const name = settings?.tokenEnvVarName ?? DEFAULT_GITLAB_TOKEN_ENV;
  return {
    method: "gitlab",
    async init() {
      const token = env[name]?.trim();
      if (!token)
        throw new UserError(
          `the gitlab join method reads the job's ID token from $${name}, which is not set: add it to the job's ` +
            `id_tokens (${name}: {aud: <cluster name>})` +
            (settings?.tokenEnvVarName
              ? ""
              : " or name another variable in onboarding.gitlab.token_env_var_name"),
        );
      return { id_token: token };
    },
  };
}
