// GitHub join, client half: ask the Actions runtime for an ID token whose audience is the
// cluster's name (ACTIONS_ID_TOKEN_REQUEST_URL with `&audience=`, authorised by
// ACTIONS_ID_TOKEN_REQUEST_TOKEN, as @actions/core's getIDToken does) and send it. A fresh
// token is fetched for every join, so a daemon's re-join never sends an expired one.

import { systemRoots } from "../../protocol/client.ts";
import { UserError } from "../../util/errors.ts";
import type { JoinMethodClient } from "../client.ts";

const TIMEOUT_MS = 10_000;

export function githubJoinClient(
  clusterName: string | undefined,
  env: Record<string, string | undefined> = process.env,
): JoinMethodClient {
  return {
    method: "github",
    async init() {
      return { id_token: await actionsIdToken(clusterName, env) };
    },
  };
}

export async function actionsIdToken(
  audience: string | undefined,
  env: Record<string, string | undefined>,
): Promise<string> {
  const url = env.ACTIONS_ID_TOKEN_REQUEST_URL;
  const bearer = env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
  if (!url || !bearer)
    throw new UserError(
      "the github join method needs the GitHub Actions ID token service: ACTIONS_ID_TOKEN_REQUEST_URL and " +
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set (run inside a GitHub Actions job with `permissions: id-token: write`)",
    );
  if (!audience) throw new UserError("the cluster name is unknown, so no ID token audience can be requested");
  const full = `${url}${url.includes("?") ? "&" : "?"}audience=${encodeURIComponent(audience)}`;
  const ca = systemRoots(env);
  let res: Response;
  try {
    res = await fetch(full, {
      headers: { Authorization: `Bearer ${bearer}`, Accept: "application/json" },
      signal: AbortSignal.timeout(TIMEOUT_MS),
      ...(ca ? { tls: { ca } } : {}),
    } as RequestInit);
  } catch (e) {
    throw new UserError(
      `cannot reach the GitHub Actions ID token service: ${(e as Error).message}`,
      "connection_problem",
    );
  }
  if (!res.ok)
    throw new UserError(
      `the GitHub Actions ID token service answered HTTP ${res.status}`,
      "connection_problem",
    );
  const body = (await res.json().catch(() => null)) as { value?: unknown } | null;
  if (typeof body?.value !== "string" || !body.value)
    throw new UserError('the GitHub Actions ID token service sent no token (expected {"value": ...})');
  return body.value;
}
