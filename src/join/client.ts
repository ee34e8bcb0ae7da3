// The client half of the join protocol: send the first message, answer challenges with the
// method's solver until the server returns a result. Each method's client half lives in
// src/join/<method>/client.ts; the agent finds it through the registry (registry.ts).

import type { ApiClient } from "../protocol/client.ts";
import type { JoinRequest, JoinResponse, JoinResult, PublicKeys } from "../protocol/messages.ts";
import { paths } from "../protocol/messages.ts";
import { UserError } from "../util/errors.ts";
import { faultInjection } from "../util/fault.ts";

export interface JoinMethodClient {
  readonly method: string;
  /** Method-specific part of the first message. */
  init(): Promise<Record<string, unknown> | undefined>;
  /** Answer a challenge; methods without challenges leave this out. */
  solve?(challenge: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** Called with the final result (e.g. to persist bound-keypair state). */
  finish?(result: JoinResult): Promise<void>;
  /** Release what init/solve opened (TPM handles), whether the join succeeded or not. */
  close?(): Promise<void>;
}

export interface JoinParams {
  tokenName: string;
  publicKeys: PublicKeys;
  expires: Date;
}

const MAX_STEPS = 8;

export async function runJoin(
  api: ApiClient,
  params: JoinParams,
  method: JoinMethodClient,
): Promise<JoinResult> {
  const base: JoinRequest = {
    client_init: { join_method: method.method, token_name: params.tokenName, system_role: "Bot" },
    bot_params: { public_keys: params.publicKeys, expires: params.expires.toISOString() },
  };
  try {
    const init = await method.init();
    let req: JoinRequest = init ? { ...base, method_init: init } : base;
    for (let step = 0; step < MAX_STEPS; step++) {
      const res = await api.post<JoinResponse>(paths.join, req);
      if (res.type === "result") {
        faultInjection("after-join-response");
        await method.finish?.(res);
        return res;
      }
      if (!method.solve)
        throw new UserError(
          `the server sent a challenge, which the ${method.method} join method does not expect`,
        );
      req = { ...base, continuation: res.continuation, solution: await method.solve(res.challenge) };
    }
    throw new UserError("join did not complete: too many challenge rounds");
  } finally {
    await method.close?.();
  }
}
