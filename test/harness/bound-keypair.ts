// Helpers for the bound-keypair end-to-end tests: token files, token status through tctl, and a
// small driver of the join protocol (src/protocol + the bound-keypair message shapes) so a test
// can send exactly the messages it wants — a replayed solution, a wrong signature, an expired
// continuation — to the real tauth.

import { Database } from "bun:sqlite";
import { createHmac } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freshKey } from "../../src/agent/identity/bot-identity.ts";
import { nobleKeyFromPem, signJwsNoble } from "../../src/crypto/jws-noble.ts";
import type { BoundKeypairChallenge, BoundKeypairInit } from "../../src/join/bound-keypair/messages.ts";
import { ApiClient } from "../../src/protocol/client.ts";
import type { JoinRequest, JoinResponse, PublicKeys } from "../../src/protocol/messages.ts";
import { paths } from "../../src/protocol/messages.ts";
import { UserError } from "../../src/util/errors.ts";
import { tbotBin } from "./binary.ts";
import type { TauthHandle } from "./tauth.ts";

export interface BoundKeypairStatus {
  bound_public_key?: string;
  bound_bot_instance_id?: string;
  recovery_count?: number;
  last_recovered_at?: string;
  last_rotated_at?: string;
  registration_secret?: string;
}

/** A `kind: token` v2 bound_keypair token for `bot` (YAML text); `extra` lines go under bound_keypair. */
export function boundKeypairTokenYaml(
  name: string,
  bot: string,
  o: { limit?: number; mode?: string; onboarding?: string[]; extra?: string[] } = {},
): string {
  const onboarding = o.onboarding?.length
    ? ["    onboarding:", ...o.onboarding.map((l) => `      ${l}`)]
    : [];
  return [
    "kind: token",
    "version: v2",
    "metadata:",
    `  name: ${name}`,
    "spec:",
    "  roles: [Bot]",
    "  join_method: bound_keypair",
    `  bot_name: ${bot}`,
    "  bound_keypair:",
    ...onboarding,
    "    recovery:",
    `      mode: ${o.mode ?? "standard"}`,
    `      limit: ${o.limit ?? 1}`,
    ...(o.extra ?? []).map((l) => `    ${l}`),
    "",
  ].join("\n");
}

export function botYaml(name: string, roles = ["access"]): string {
  return [
    "kind: bot",
    "version: v1",
    "metadata:",
    `  name: ${name}`,
    "spec:",
    `  roles: [${roles.join(", ")}]`,
    "",
  ].join("\n");
}

/** `tctl create [-f] FILE` with `text` written to `path`; throws with tctl's stderr on failure. */
export function tctlCreate(h: TauthHandle, path: string, text: string, force = false): void {
  writeFileSync(path, text);
  const r = h.tctl(["create", ...(force ? ["-f"] : []), path]);
  if (r.code !== 0) throw new Error(`tctl create ${path} failed: ${r.stderr}`);
}

/** The token's status.bound_keypair as `tctl get token/NAME --format=json` shows it. */
export function tokenStatus(h: TauthHandle, name: string): BoundKeypairStatus {
  const r = h.tctl(["get", `token/${name}`, "--format=json"]);
  if (r.code !== 0) throw new Error(`tctl get token/${name} failed: ${r.stderr}`);
  return (JSON.parse(r.stdout)[0]?.status?.bound_keypair ?? {}) as BoundKeypairStatus;
}

/** Locks as `tctl get lock --format=json` lists them. */
export function locks(h: TauthHandle): { spec: { target: Record<string, string>; message: string } }[] {
  const r = h.tctl(["get", "lock", "--format=json"]);
  if (r.code !== 0) throw new Error(`tctl get lock failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** `tbot start` flags for a bound-keypair join to `h` (daemon unless `--oneshot` is in extra). */
export function bkArgs(
  h: TauthHandle,
  o: { token: string; data: string; dest: string; secret?: string; extra?: string[] },
): string[] {
  return [
    tbotBin,
    "start",
    "--auth-server",
    h.addr,
    "--ca-pin",
    h.pin,
    "--join-method",
    "bound_keypair",
    "--token",
    o.token,
    ...(o.secret ? ["--registration-secret", o.secret] : []),
    "--data-dir",
    o.data,
    "--destination-dir",
    o.dest,
    ...(o.extra ?? []),
  ];
}

/** The first line of a file in storage (id_bkp.pub and the like). */
export function readLine(dir: string, name: string): string {
  return readFileSync(join(dir, name), "utf8").trim();
}

/** Public keys of the key history kept in storage (bkp_key_history.json). */
export function historyKeys(dir: string): string[] {
  const h = JSON.parse(readFileSync(join(dir, "bkp_key_history.json"), "utf8")) as {
    entries: { public_key: string }[];
  };
  return h.entries.map((e) => e.public_key.trim());
}

/** The bot instance ID in a certificate (OID 1.3.9999.2.20 of the subject). */
export function certInstanceId(certPath: string): string {
  const r = Bun.spawnSync(["openssl", "x509", "-in", certPath, "-noout", "-subject"], { stdout: "pipe" });
  return /1\.3\.9999\.2\.20 = ([0-9a-f-]+)/.exec(r.stdout.toString())?.[1] ?? "";
}

// ---- the join protocol, message by message ----

/** What the server answered, or the error it answered with. */
export type Answer = { ok: true; res: JoinResponse } | { ok: false; code: string; message: string };

export class JoinDriver {
  readonly api: ApiClient;
  private publicKeys!: PublicKeys;

  private constructor(
    h: TauthHandle,
    readonly token: string,
  ) {
    // Trust exactly the cluster's host CA, as tbot does after checking its pin.
    const r = h.tctl(["auth", "export", "--type=tls-host"]);
    if (r.code !== 0) throw new Error(`tctl auth export failed: ${r.stderr}`);
    this.api = new ApiClient(h.addr, { ca: [r.stdout] });
  }

  static async create(h: TauthHandle, token: string): Promise<JoinDriver> {
    const d = new JoinDriver(h, token);
    d.publicKeys = (await freshKey()).publicKeys;
    return d;
  }

  private base(): JoinRequest {
    return {
      client_init: { join_method: "bound_keypair", token_name: this.token, system_role: "Bot" },
      bot_params: {
        public_keys: this.publicKeys,
        expires: new Date(Date.now() + 3600_000).toISOString(),
      },
    };
  }

  private async post(req: JoinRequest): Promise<Answer> {
    try {
      return { ok: true, res: await this.api.post<JoinResponse>(paths.join, req) };
    } catch (e) {
      if (e instanceof UserError) return { ok: false, code: e.code ?? "", message: e.message };
      throw e;
    }
  }

  /** The first message; answers a challenge (or an error). */
  begin(init: BoundKeypairInit = {}): Promise<Answer> {
    return this.post({ ...this.base(), method_init: { ...init } });
  }

  /** A later message: the continuation and a solution. */
  answer(continuation: string, solution: Record<string, unknown>): Promise<Answer> {
    return this.post({ ...this.base(), continuation, solution });
  }
}

/** The challenge of an answer that must be one; throws with the server's message otherwise. */
export function challengeOf(a: Answer): { continuation: string; challenge: BoundKeypairChallenge } {
  if (!a.ok) throw new Error(`expected a challenge, got ${a.code}: ${a.message}`);
  if (a.res.type !== "challenge") throw new Error(`expected a challenge, got ${a.res.type}`);
  return {
    continuation: a.res.continuation,
    challenge: a.res.challenge as unknown as BoundKeypairChallenge,
  };
}

/** A challenge solution: the challenge bytes signed as a compact JWS with `privateKeyPem`. */
export function solution(challenge: BoundKeypairChallenge, privateKeyPem: string): Record<string, unknown> {
  if (challenge.type !== "bound_keypair_challenge")
    throw new Error(`not a signing challenge: ${challenge.type}`);
  return {
    type: "bound_keypair_challenge_solution",
    solution: signJwsNoble(challenge.challenge, nobleKeyFromPem(privateKeyPem)),
  };
}

/**
 * The same continuation with its expiry moved into the past, signed again with the cluster's
 * continuation key (read from tauth's database, where every replica reads it too). It is what
 * the server would see from a client that answered more than 60 seconds late.
 */
export function expiredCopy(h: TauthHandle, continuation: string): string {
  const db = new Database(join(h.dataDir, "tauth.db"), { readonly: true });
  let secret: string;
  try {
    const row = db
      .query<{ value: string }, [string]>("SELECT value FROM kv WHERE key = ?")
      .get("/authorities/join");
    if (!row) throw new Error("no join keys in tauth's database");
    secret = (JSON.parse(row.value) as { continuation_secret: string }).continuation_secret;
  } finally {
    db.close();
  }
  const [body] = continuation.split(".");
  const env = JSON.parse(Buffer.from(body!, "base64url").toString("utf8")) as { exp: number };
  env.exp = Date.now() - 1000;
  const newBody = Buffer.from(JSON.stringify(env)).toString("base64url");
  const mac = createHmac("sha256", Buffer.from(secret, "base64")).update(newBody).digest("base64url");
  return `${newBody}.${mac}`;
}
