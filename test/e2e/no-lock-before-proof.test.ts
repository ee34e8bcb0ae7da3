// Finding 2 of the adversarial review: anyone could lock any bound-keypair token, because a
// join naming it ran the instance and join-state checks (and created the lock) before the
// bound-key challenge. Token names are not secret. Now nothing changes before the proof: each
// attempt below is denied, and no lock, audit failure or status change follows.

import { beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { freshKey } from "../../src/agent/identity/bot-identity.ts";
import type { JoinRequest, JoinResponse } from "../../src/protocol/messages.ts";
import { paths } from "../../src/protocol/messages.ts";
import { UserError } from "../../src/util/errors.ts";
import {
  bkArgs,
  botYaml,
  boundKeypairTokenYaml,
  locks,
  tctlCreate,
  tokenStatus,
} from "../harness/bound-keypair.ts";
import { addBot, fileScope, oneShot } from "../harness/extra.ts";
import { clusterApi, type RawIdentity, storedIdentity } from "../harness/identity-api.ts";
import { run } from "../harness/proc.ts";
import type { TauthHandle } from "../harness/tauth.ts";

setDefaultTimeout(60_000);
const scope = fileScope();
let auth: TauthHandle;
let work: string;
let otherBot: RawIdentity;
let otherOutput: RawIdentity;

/** A bound-keypair bot that has joined once (its key is bound, its recovery count is 1). */
function joinedVictim(name: string, mode: "standard" | "relaxed") {
  tctlCreate(auth, join(work, `${name}-bot.yaml`), botYaml(name));
  tctlCreate(
    auth,
    join(work, `${name}-token.yaml`),
    boundKeypairTokenYaml(name, name, { limit: 3, mode, onboarding: [`registration_secret: ${name}-s`] }),
  );
  const data = join(work, `${name}-data`);
  const dest = join(work, `${name}-out`);
  const r = run(bkArgs(auth, { token: name, data, dest, secret: `${name}-s`, extra: ["--oneshot"] }));
  if (r.code !== 0) throw new Error(`victim join failed: ${r.stderr}`);
  return { data, dest };
}

async function joinAs(caller: RawIdentity | undefined, req: JoinRequest) {
  try {
    return { ok: true as const, res: await clusterApi(auth, caller).post<JoinResponse>(paths.join, req) };
  } catch (e) {
    if (e instanceof UserError) return { ok: false as const, code: e.code, message: e.message };
    throw e;
  }
}

/** An attempt on `token` by `caller`: a first message with a made-up join state, then a forged answer. */
async function attack(token: string, caller: RawIdentity | undefined) {
  const key = await freshKey();
  const base: JoinRequest = {
    client_init: { join_method: "bound_keypair", token_name: token, system_role: "Bot" },
    bot_params: { public_keys: key.publicKeys, expires: new Date(Date.now() + 3600_000).toISOString() },
  };
  const first = await joinAs(caller, { ...base, method_init: { previous_join_state: "e30.e30.AAAA" } });
  // The server asks the bound key to sign; nothing has been judged or changed yet.
  expect(first.ok).toBe(true);
  const res = (first as { res: JoinResponse }).res;
  expect(res.type).toBe("challenge");
  const forged = await joinAs(caller, {
    ...base,
    continuation: (res as { continuation: string }).continuation,
    solution: { type: "bound_keypair_challenge_solution", solution: "e30.e30.AAAA" },
  });
  expect(forged.ok).toBe(false);
  expect((forged as { code: string }).code).toBe("access_denied");
  expect((forged as { message: string }).message).toContain("challenge verification failed");
}

function expectUntouched(token: string, before: ReturnType<typeof tokenStatus>) {
  expect(locks(auth)).toEqual([]);
  expect(auth.auditLog().filter((e) => e.event === "bound_keypair.join_state_verification_failed")).toEqual(
    [],
  );
  expect(tokenStatus(auth, token)).toEqual(before);
}

beforeAll(async () => {
  auth = await scope.tauth();
  work = scope.tempDir("no-lock-");
  // Another bot of the same cluster, joined with a token: its internal and output certificates.
  const token = addBot(auth, "other");
  const data = join(work, "other-data");
  const dest = join(work, "other-out");
  const r = oneShot(auth, { data, dest, token });
  if (r.code !== 0) throw new Error(`other bot join failed: ${r.stderr}`);
  otherBot = storedIdentity(data);
  otherOutput = storedIdentity(dest);
});

describe("no state change before the bound key's proof", () => {
  test("another bot's internal certificate naming a standard-mode token: denied, no lock", async () => {
    const victim = joinedVictim("victim-a", "standard");
    const before = tokenStatus(auth, "victim-a");
    await attack("victim-a", otherBot);
    expectUntouched("victim-a", before);
    // The real bot carries on: it refreshes with its own certificate.
    const again = run(bkArgs(auth, { token: "victim-a", ...victim, extra: ["--oneshot"] }));
    expect(again.stderr).not.toContain("ERROR");
    expect(again.code).toBe(0);
  });

  test("another bot's output certificate: denied, no lock", async () => {
    joinedVictim("victim-b", "standard");
    const before = tokenStatus(auth, "victim-b");
    await attack("victim-b", otherOutput);
    expectUntouched("victim-b", before);
  });

  test("no certificate at all, on a relaxed-mode and a standard-mode token: denied, no lock", async () => {
    const victim = joinedVictim("victim-c", "relaxed");
    joinedVictim("victim-d", "standard");
    const beforeC = tokenStatus(auth, "victim-c");
    const beforeD = tokenStatus(auth, "victim-d");
    await attack("victim-c", undefined);
    await attack("victim-d", undefined);
    expectUntouched("victim-c", beforeC);
    expectUntouched("victim-d", beforeD);
    const again = run(bkArgs(auth, { token: "victim-c", ...victim, extra: ["--oneshot"] }));
    expect(again.code).toBe(0);
  });
});

describe("only the bot's internal identity speaks for its instance", () => {
  const heartbeat = {
    is_startup: false,
    hostname: "h",
    version: "v",
    uptime_seconds: 1,
    one_shot: true,
    architecture: "x64",
    os: "linux",
  };

  async function post(id: RawIdentity) {
    try {
      return {
        ok: true as const,
        res: await clusterApi(auth, id).post<{ ok: boolean }>(paths.botHeartbeat, heartbeat),
      };
    } catch (e) {
      if (e instanceof UserError) return { ok: false as const, code: e.code, message: e.message };
      throw e;
    }
  }

  test("a heartbeat with an output certificate is refused; with the internal identity it is recorded", async () => {
    const refused = await post(otherOutput);
    expect(refused.ok).toBe(false);
    expect((refused as { code: string }).code).toBe("access_denied");
    expect((refused as { message: string }).message).toContain("output certificates cannot be used");
    const accepted = await post(otherBot);
    expect(accepted).toEqual({ ok: true, res: { ok: true } });
  });
});
