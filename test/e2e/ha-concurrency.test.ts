// High availability, part 1: three tauth replicas (the compiled binary) on one PostgreSQL
// database behind HAProxy, and the counters that guard against reuse and theft hold across
// them. Every request below is its own connection, so HAProxy spreads each burst over all
// three replicas; what keeps exactly one winner is the database's compare-and-swap.

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { type FreshKey, freshKey } from "../../src/agent/identity/bot-identity.ts";
import { newBoundKey } from "../../src/join/bound-keypair/client.ts";
import type { BoundKeypairResult } from "../../src/join/bound-keypair/messages.ts";
import { runJoin } from "../../src/join/client.ts";
import { tokenJoinClient } from "../../src/join/token/client.ts";
import type { ApiClient } from "../../src/protocol/client.ts";
import type { JoinResult, RenewRequest } from "../../src/protocol/messages.ts";
import { paths } from "../../src/protocol/messages.ts";
import { UserError } from "../../src/util/errors.ts";
import {
  botYaml,
  boundKeypairTokenYaml,
  challengeOf,
  JoinDriver,
  locks,
  solution,
  tctlCreate,
  tokenStatus,
} from "../harness/bound-keypair.ts";
import { addBot, instanceIds } from "../harness/extra.ts";
import { type HaproxyHandle, startHaproxy } from "../harness/haproxy.ts";
import { clusterApi, instanceOf, type RawIdentity } from "../harness/identity-api.ts";
import { type PgServer, startPostgres, stopAllPostgres } from "../harness/postgres.ts";
import { cleanupAfterFile, tempDir } from "../harness/proc.ts";
import type { TauthHandle } from "../harness/tauth.ts";
import { type Replica, readyz, startReplica, tauthDatabase, via } from "../harness/tauth-replicas.ts";

setDefaultTimeout(60_000);
afterAll(stopAllPostgres);
cleanupAfterFile();

let pg: PgServer;
let replicas: Replica[];
let lb: HaproxyHandle;
/** The cluster as clients see it: through HAProxy, with the first replica's admin identity. */
let cluster: TauthHandle;
let work: string;

type Outcome = { ok: true; res: JoinResult } | { ok: false; code: string; message: string };

async function outcome(p: Promise<JoinResult>): Promise<Outcome> {
  try {
    return { ok: true, res: await p };
  } catch (e) {
    if (e instanceof UserError) return { ok: false, code: e.code, message: e.message };
    throw e;
  }
}

const inAnHour = () => new Date(Date.now() + 3600_000);

function tokenJoin(api: ApiClient, token: string, key: FreshKey) {
  return outcome(
    runJoin(api, { tokenName: token, publicKeys: key.publicKeys, expires: inAnHour() }, tokenJoinClient),
  );
}

function renew(api: ApiClient, key: FreshKey) {
  // As tbot renews: it keeps the key until the answer is saved, and says so.
  const req: RenewRequest = {
    public_keys: key.publicKeys,
    expires: inAnHour().toISOString(),
    key_kept: true,
  };
  return outcome(api.post<JoinResult>(paths.renew, req));
}

beforeAll(async () => {
  pg = await startPostgres();
  const url = tauthDatabase(pg, "ha-Pa55");
  const first = await startReplica({ connString: url, id: "r1" });
  replicas = [first, ...(await Promise.all(["r2", "r3"].map((id) => startReplica({ connString: url, id }))))];
  lb = await startHaproxy(replicas.map((r) => ({ name: r.id, port: r.port })));
  await lb.waitFor("UP");
  cluster = via(lb.addr, first);
  work = tempDir("ha-concurrency-");
}, 90_000);

test("HAProxy spreads connections over all three replicas, and checks them with /readyz", async () => {
  const seen = new Set<string>();
  for (let i = 0; i < 9; i++) seen.add((await readyz(lb.addr)).replica);
  expect([...seen].sort()).toEqual(["r1", "r2", "r3"]);
  expect(Object.values(await lb.states())).toEqual(["UP", "UP", "UP"]);
});

describe("one winner across replicas", () => {
  test("50 joins at once with one single-use token: exactly one succeeds, one instance exists", async () => {
    const token = addBot(cluster, "racer");
    const api = clusterApi(cluster);
    const keys = await Promise.all(Array.from({ length: 50 }, () => freshKey()));
    const results = await Promise.all(keys.map((k) => tokenJoin(api, token, k)));
    const won = results.filter((r) => r.ok);
    expect(won).toHaveLength(1);
    for (const r of results.filter((x) => !x.ok))
      expect((r as { message: string }).message).toMatch(/already used/);
    expect(instanceIds(cluster, "racer")).toEqual([(won[0] as { res: JoinResult }).res.bot_instance_id]);
  });

  // The generation rules (src/auth/generations.ts, src/auth/instances.ts): the counter
  // advances once; a presenter that overlapped the winner is a copy (refused, the instance
  // locked), and so is one that arrives after the winner committed with another key — a lost
  // answer is served again only to the key it was issued to, which tbot keeps for its retry.
  test("20 renewals at once presenting the same generation: exactly one succeeds, the instance is locked", async () => {
    const token = addBot(cluster, "copied");
    const key = await freshKey();
    const joined = await tokenJoin(clusterApi(cluster), token, key);
    if (!joined.ok) throw new Error(joined.message);
    const id: RawIdentity = { certPem: joined.res.certificates.tls_cert, keyPem: key.keyPem };
    const api = clusterApi(cluster, id);
    const renewKeys = await Promise.all(Array.from({ length: 20 }, () => freshKey()));
    const results = await Promise.all(renewKeys.map((k) => renew(api, k)));
    const served = results.flatMap((r, i) => (r.ok ? [{ res: r.res, key: renewKeys[i]! }] : []));
    expect(served).toHaveLength(1);
    expect(new Set(served.map((s) => s.res.generation))).toEqual(new Set([2]));
    for (const r of results.filter((x) => !x.ok)) {
      expect((r as { code: string }).code).toBe("access_denied");
      expect((r as { message: string }).message).toContain("generation mismatch");
    }
    const instance = instanceOf(id);
    // (One lock per refused presenter.)
    expect(locks(cluster).filter((l) => l.spec.target.bot_instance_id === instance).length).toBeGreaterThan(
      0,
    );
    const shown = cluster.tctl(["bots", "instances", "show", `copied/${instance}`, "--format=json"]);
    expect(JSON.parse(shown.stdout).generation).toBe(2);
    // Locked everywhere: no certificate the burst handed out renews, through any replica.
    for (const [i, s] of served.entries()) {
      const r = replicas[i % replicas.length]!;
      const again = await renew(
        clusterApi(via(r.addr, r), { certPem: s.res.certificates.tls_cert, keyPem: s.key.keyPem }),
        await freshKey(),
      );
      expect(again.ok).toBe(false);
      expect((again as { message: string }).message).toContain("is locked");
    }
  });

  test("10 bound-keypair recoveries at once with one join state: one succeeds, the recovery counter moves by one", async () => {
    const bound = await newBoundKey();
    tctlCreate(cluster, join(work, "bk-bot.yaml"), botYaml("bk-racer"));
    tctlCreate(
      cluster,
      join(work, "bk-token.yaml"),
      boundKeypairTokenYaml("bk-racer", "bk-racer", {
        limit: 5,
        onboarding: [`initial_public_key: "${bound.publicKey}"`],
      }),
    );
    const driver = await JoinDriver.create(cluster, "bk-racer");
    const first = challengeOf(await driver.begin());
    const joined = await driver.answer(first.continuation, solution(first.challenge, bound.privateKeyPem));
    if (!joined.ok || joined.res.type !== "result")
      throw new Error(`first join failed: ${JSON.stringify(joined)}`);
    const joinState = (joined.res.method_result as unknown as BoundKeypairResult).join_state;
    expect(tokenStatus(cluster, "bk-racer").recovery_count).toBe(1);

    // Every recovery starts from the same token state, then all answer at once.
    const starts = await Promise.all(
      Array.from({ length: 10 }, () => driver.begin({ previous_join_state: joinState }).then(challengeOf)),
    );
    const answers = await Promise.all(
      starts.map((s) => driver.answer(s.continuation, solution(s.challenge, bound.privateKeyPem))),
    );
    expect(answers.filter((a) => a.ok)).toHaveLength(1);
    for (const a of answers.filter((x) => !x.ok)) expect((a as { code: string }).code).toBe("compare_failed");
    const st = tokenStatus(cluster, "bk-racer");
    expect(st.recovery_count).toBe(2);
    expect(instanceIds(cluster, "bk-racer")).toHaveLength(2);
    // Losing a race is not theft: nothing is locked.
    expect(locks(cluster).filter((l) => l.spec.target.join_token === "bk-racer")).toEqual([]);
  });
});
