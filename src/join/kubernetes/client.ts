// Kubernetes join, client half: read the pod's projected service-account token and send it.
// The file is read at every join: the kubelet rotates it, so a daemon's re-join sends the
// current one. Where: onboarding.kubernetes.token_path, else KUBERNETES_TOKEN_PATH, else the
// standard mount path (the reference's order: config beats env).

import { readFileSync } from "node:fs";
import { UserError } from "../../util/errors.ts";
import type { JoinMethodClient } from "../client.ts";
import { DEFAULT_KUBERNETES_TOKEN_PATH, type KubernetesOnboarding } from "./onboarding.ts";

export function kubernetesTokenPath(
  settings: KubernetesOnboarding | undefined,
  env: Record<string, string | undefined>,
): string {
  return settings?.tokenPath || env.KUBERNETES_TOKEN_PATH || DEFAULT_KUBERNETES_TOKEN_PATH;
}

export function kubernetesJoinClient(
  settings: KubernetesOnboarding | undefined,
  env: Record<string, string | undefined> = process.env,
): JoinMethodClient {
  return {
    method: "kubernetes",
    async init() {
      const path = kubernetesTokenPath(settings, env);
      let token: string;
      try {
        token = readFileSync(path, "utf8").trim();
      } catch (e) {
        throw new UserError(
          `the kubernetes join method reads the pod's service-account token from ${path}, which cannot be read ` +
            `(${(e as NodeJS.ErrnoException).code ?? e}); set onboarding.kubernetes.token_path or KUBERNETES_TOKEN_PATH`,
        );
      }
      if (!token) throw new UserError(`the service-account token file ${path} is empty`);
      return { id_token: token };
    },
  };
}
