// Join continuations: the state a multi-step join carries between its messages, signed by
// the cluster (HMAC) and short-lived, so any replica can take the next step without sticky
// sessions. Each one is single use: redeeming records its ID with backend.create, which
// fails for the second redeemer on whichever replica it arrives. Expiry is by the cluster's
// clock (the database's, clock.ts), so replicas whose own clocks disagree agree on it.

import { accessDenied, isCode } from "../util/errors.ts";
import type { Backend } from "./backend/backend.ts";

interface Envelope {
  id: string;
  method: string;
  token: string;
  exp: number;
  state: Record<string, unknown>;
}

export class Continuations {
  constructor(
    private readonly backend: Backend,
    private readonly key: CryptoKey,
    private readonly now: () => number = Date.now,
  ) {}

  async issue(method: string, token: string, state: Record<string, unknown>, ttlMs: number): Promise<string> {
    const env: Envelope = { id: crypto.randomUUID(), method, token, exp: this.now() + ttlMs, state };
    const body = Buffer.from(JSON.stringify(env)).toString("base64url");
    const mac = await crypto.subtle.sign("HMAC", this.key, new TextEncoder().encode(body));
    return `${body}.${Buffer.from(mac).toString("base64url")}`;
  }

  /** Verify, check expiry and binding, and consume. Throws access_denied with the reason. */
  async redeem(text: string, method: string, token: string): Promise<Record<string, unknown>> {
    const [body, mac] = typeof text === "string" ? text.split(".") : [];
    if (!body || !mac) throw accessDenied("join continuation is malformed; start the join again");
    const ok = await crypto.subtle.verify(
      "HMAC",
      this.key,
      new Uint8Array(Buffer.from(mac, "base64url")),
      new TextEncoder().encode(body),
    );
    if (!ok) throw accessDenied("join continuation was not issued by this cluster; start the join again");
    const env = JSON.parse(Buffer.from(body, "base64url").toString("utf8")) as Envelope;
    if (env.method !== method || env.token !== token)
      throw accessDenied("join continuation belongs to another join; start the join again");
    if (this.now() > env.exp)
      throw accessDenied("the join challenge expired (it is valid for 60 seconds); start the join again");
    try {
      await this.backend.create({
        key: `/join_continuations/${env.id}`,
        value: "{}",
        expires: new Date(env.exp + 60_000),
      });
    } catch (e) {
      if (isCode(e, "already_exists"))
        throw accessDenied("this join step was already answered (a replayed solution); start the join again");
      throw e;
    }
    return env.state;
  }
}
