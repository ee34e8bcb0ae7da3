// High availability, part 4: replicas whose clocks are wrong. One runs two hours ahead and
// one two hours behind (libfaketime under the compiled binary); expiry is still decided by
// the database's clock (src/auth/clock.ts): a token, a join continuation or a bound-keypair
// challenge issued through one replica is judged the same by any other, live or expired.
//
// What libfaketime cannot fix: a replica checks client certificates' validity with its own
// clock in the TLS library. The replica behind refuses certificates issued less than two
// hours ago (tctl's included), so it is only spoken to without one here (joins).

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createHmac, X509Certificate } from "node:crypto";
import { join } from "node:path";
import { freshKey } from "../../src/agent/identity/bot-identity.ts";
import { newBoundKey } from "../../src/join/bound-keypair/client.ts";
import { runJoin } from "../../src/join/client.ts";
import { tokenJoinClient } from "../../src/join/token/client.ts";
import { ApiClient } from "../../src/protocol/client.ts";
import type { JoinResult } from "../../src/protocol/messages.ts";
import { UserError } from "../../src/util/errors.ts";
import {
  botYaml,
  boundKeypairTokenYaml,
  challengeOf,
  JoinDriver,
  solution,
  tctlCreate,
  tokenStatus,
} from "../harness/bound-keypair.ts";
import { addBot, newToken } from "../harness/extra.ts";
import { type PgServer, startPostgres, stopAllPostgres } from "../harness/postgres.ts";
import { cleanupAfterFile, tempDir } from "../harness/proc.ts";
import type { TauthHandle } from "../harness/tauth.ts";
import {
  eventually,
  faketimeEnv,
  type Replica,
  startReplica,
  tauthDatabase,
} from "../harness/tauth-replicas.ts";

setDefaultTimeout(60_000);
afterAll(stopAllPostgres);
cleanupAfterFile();

let pg: PgServer;
let normal: Replica;
let ahead: Replica;
let behind: Replica;
let hostCa: string;
let work: string;

/** `normal`'s admin identity and CA export, but requests to `r` (tctl on `behind` is refused). */
const at = (r: Replica): TauthHandle => ({ ...normal, addr: r.addr });

function api(r: Replica): ApiClient {
  return new ApiClient(r.addr, { ca: [hostCa], keepAlive: false });
}

async function tokenJoin(
  r: Replica,
  token: string,
): Promise<{ ok: true; res: JoinResult } | { ok: false; message: string }> {
  const key = await freshKey();
  try {
    const res = await runJoin(
      api(r),
      { tokenName: token, publicKeys: key.publicKeys, expires: new Date(Date.now() + 3600_000) },
      tokenJoinClient,
    );
    return { ok: true, res };
  } catch (e) {
    if (e instanceof UserError) return { ok: false, message: e.message };
    throw e;
  }
}

/** The log's first timestamp minus now: how far the process's clock is off. */
function logSkewMs(r: Replica): number {
  const first = /^(\d{4}-\d\d-\d\dT[\d:.]+Z)/.exec(r.proc.output())![1]!;
  return Date.parse(first) - Date.now();
}

beforeAll(async () => {
  pg = await startPostgres();
  const url = tauthDatabase(pg, "ha-clock-Pa55");
  normal = await startReplica({ connString: url, id: "normal" });
  [ahead, behind] = await Promise.all([
    startReplica({ connString: url, id: "ahead", env: faketimeEnv("+2h"), pin: normal.pin }),
    startReplica({ connString: url, id: "behind", env: faketimeEnv("-2h"), pin: normal.pin }),
  ]);
  hostCa = normal.tctl(["auth", "export", "--type=tls-host"]).stdout;
  work = tempDir("ha-clock-");
}, 60_000);

test("libfaketime moves the compiled binary's clock, and each skewed replica notices the database's differs", async () => {
  expect(Math.abs(logSkewMs(ahead) - 2 * 3600_000)).toBeLessThan(60_000);
  expect(Math.abs(logSkewMs(behind) + 2 * 3600_000)).toBeLessThan(60_000);
  for (const r of [ahead, behind])
    expect(r.proc.output()).toContain("This machine's clock differs from the database's");
  expect(normal.proc.output()).not.toContain("clock differs");
});

describe("join tokens", () => {
  test("a one-hour token made through a normal replica joins through the replica two hours ahead", async () => {
    addBot(normal, "early");
    const joined = await tokenJoin(ahead, newToken(normal, "early"));
    expect(joined.ok && joined.res.bot_instance_id).toBeTruthy();
    // Its certificate is valid now by the database's clock, not two hours from now.
    const cert = new X509Certificate((joined as { res: JoinResult }).res.certificates.tls_cert);
    expect(Date.parse(cert.validFrom)).toBeLessThan(Date.now());
    expect(Date.parse(cert.validTo)).toBeLessThan(Date.now() + 3600_000 + 60_000);
  });

  test("a token made through the replica two hours ahead expires an hour from now by the database's clock", async () => {
    addBot(normal, "made-ahead");
    const r = at(ahead).tctl(["bots", "instances", "add", "made-ahead", "--format=json"]);
    expect(r.code).toBe(0);
    const grant = JSON.parse(r.stdout) as { token_name: string; expires: string };
    expect(Math.abs(Date.parse(grant.expires) - (Date.now() + 3600_000))).toBeLessThan(60_000);
    const joined = await tokenJoin(normal, grant.token_name);
    expect(joined.ok).toBe(true);
  });

  test("a token expired by the database's clock is refused by the replica two hours behind", async () => {
    addBot(normal, "late");
    const r = normal.tctl(["bots", "instances", "add", "late", "--ttl=1s", "--format=json"]);
    expect(r.code).toBe(0);
    const token = JSON.parse(r.stdout).token_name as string;
    // Expired for the normal replica first (polled: it does not use the token up)...
    expect(
      await eventually(async () => {
        const j = await tokenJoin(normal, token);
        return !j.ok && j.message.includes("expired");
      }, 10_000),
    ).toBe(true);
    // ...and for the one whose clock says it has two more hours.
    const j = await tokenJoin(behind, token);
    expect(j.ok).toBe(false);
    expect((j as { message: string }).message).toContain("join token expired");
  });
});

describe("bound keypair challenges and continuations", () => {
  async function boundToken(name: string) {
    const key = await newBoundKey();
    tctlCreate(normal, join(work, `${name}-bot.yaml`), botYaml(name));
    tctlCreate(
      normal,
      join(work, `${name}-token.yaml`),
      boundKeypairTokenYaml(name, name, { limit: 3, onboarding: [`initial_public_key: "${key.publicKey}"`] }),
    );
    return key;
  }

  for (const [from, to] of [
    ["normal", "ahead"],
    ["ahead", "normal"],
    ["normal", "behind"],
    ["behind", "normal"],
  ] as const) {
    test(`a challenge issued by the ${from} replica is answered through the ${to} one`, async () => {
      const replicas = { normal, ahead, behind } as Record<string, Replica>;
      const name = `bk-${from}-${to}`;
      const key = await boundToken(name);
      const issuer = await JoinDriver.create(at(replicas[from]!), name);
      const judge = await JoinDriver.create(at(replicas[to]!), name);
      const ch = challengeOf(await issuer.begin());
      const answered = await judge.answer(ch.continuation, solution(ch.challenge, key.privateKeyPem));
      expect(answered.ok && answered.res.type).toBe("result");
      expect(tokenStatus(normal, name).bound_public_key).toBe(key.publicKey);
    });
  }

  test("a continuation expired by the database's clock is refused by the replica two hours behind", async () => {
    const key = await boundToken("bk-expired");
    const driver = await JoinDriver.create(at(normal), "bk-expired");
    const late = await JoinDriver.create(at(behind), "bk-expired");
    const ch = challengeOf(await driver.begin());
    const secret = JSON.parse(
      pg.psql("SELECT value FROM tauth_kv WHERE key = '/authorities/join'", "tauth").trim(),
    ).continuation_secret as string;
    // The same continuation, signed by the cluster's key, expired a second ago (a late answer).
    const [body] = ch.continuation.split(".");
    const env = JSON.parse(Buffer.from(body!, "base64url").toString("utf8")) as { exp: number };
    env.exp = Date.now() - 1000;
    const expiredBody = Buffer.from(JSON.stringify(env)).toString("base64url");
    const mac = createHmac("sha256", Buffer.from(secret, "base64")).update(expiredBody).digest("base64url");
    const refused = await late.answer(`${expiredBody}.${mac}`, solution(ch.challenge, key.privateKeyPem));
    expect(refused).toMatchObject({ ok: false, code: "access_denied" });
    expect(!refused.ok && refused.message).toContain("the join challenge expired");
    // The untouched one is still good there.
    const inTime = await late.answer(ch.continuation, solution(ch.challenge, key.privateKeyPem));
    expect(inTime.ok && inTime.res.type).toBe("result");
  });
});
