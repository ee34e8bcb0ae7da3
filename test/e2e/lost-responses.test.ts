// Findings 3 and 4 of the adversarial review, and what must still hold after their fixes:
// - a renewal refused for its input used to advance the generation, so the bot's next
//   ordinary renewal was a "mismatch" and locked it;
// - a crash or a lost response after the server committed (a renewal, a token join, a bound
//   keypair registration or recovery) locked the bot or burnt its token for good;
// - a restored database backup locked every bot that had renewed since;
// and yet a copied bot is still caught: of two holders of one identity, the second is locked.
// Crashes are real: tbot SIGKILLs itself at the exact step (TBOT_FAULT_INJECT), or the test
// sends the request itself and drops the answer.

import { beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { copyFileSync, existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { freshKey } from "../../src/agent/identity/bot-identity.ts";
import { tbotBin } from "../harness/binary.ts";
import {
  bkArgs,
  botYaml,
  boundKeypairTokenYaml,
  locks,
  tctlCreate,
  tokenStatus,
} from "../harness/bound-keypair.ts";
import { addBot, fileScope, instanceIds, legacyArgs, newToken, oneShot } from "../harness/extra.ts";
import {
  generationOf,
  instanceOf,
  outputCerts,
  type RawIdentity,
  renew,
  storedIdentity,
  tokenJoin,
} from "../harness/identity-api.ts";
import { run, startProcess } from "../harness/proc.ts";
import type { TauthHandle } from "../harness/tauth.ts";

setDefaultTimeout(60_000);
const scope = fileScope();
let auth: TauthHandle;
let work: string;

/** What run() reports for a process ended by a signal (tbot SIGKILLs itself at the fault point). */
const KILLED = -1;
const events = (name: string) => auth.auditLog().filter((e) => e.event === name);
const mismatches = () => events("renewable_certificate_generation_mismatch");

function value<T>(o: { ok: true; value: T } | { ok: false; code: string; message: string }): T {
  if (!o.ok) throw new Error(`expected success, got ${o.code}: ${o.message}`);
  return o.value;
}

/** A token bot joined by tbot one-shot; its storage and output directories. */
function joinedBot(name: string) {
  const token = addBot(auth, name);
  const dirs = { data: join(work, `${name}-data`), dest: join(work, `${name}-out`) };
  const r = oneShot(auth, { ...dirs, token });
  if (r.code !== 0) throw new Error(`${name} join failed: ${r.stderr}`);
  return { token, ...dirs };
}

function withFault(point: string) {
  return { env: { ...process.env, TBOT_FAULT_INJECT: `kill-${point}` } as Record<string, string> };
}

beforeAll(async () => {
  auth = await scope.tauth();
  work = scope.tempDir("lost-responses-");
});

describe("a refused renewal moves no counter (finding 3)", () => {
  test("expiry in the past, a malformed TLS key, a malformed SSH key: each 400, and the bot renews on", async () => {
    const bot = joinedBot("refused");
    const id = storedIdentity(bot.data);
    const key = await freshKey();
    const spoilt = [
      { expires: new Date(Date.now() - 60_000).toISOString() },
      {
        publicKeys: {
          ...key.publicKeys,
          tls_public_key: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        },
      },
      { publicKeys: { ...key.publicKeys, ssh_public_key: "ssh-ed25519 AAAA" } },
    ];
    for (const o of spoilt) {
      const r = await renew(auth, id, o);
      expect(r.ok).toBe(false);
      expect((r as { code: string }).code).toBe("bad_parameter");
    }
    const again = oneShot(auth, { data: bot.data, dest: bot.dest, token: bot.token });
    expect(again.stderr).toContain("Renewed bot identity");
    expect(again.code).toBe(0);
    expect(generationOf(storedIdentity(bot.data))).toBe(2);
    expect(mismatches()).toEqual([]);
    expect(locks(auth)).toEqual([]);
  });
});

describe("a lost response is served again (finding 4)", () => {
  test("tbot killed after the server renewed, before it saved: the next run renews, twice over", () => {
    const bot = joinedBot("renew-crash");
    for (let i = 0; i < 2; i++) {
      const killed = run(oneShotArgs(bot), withFault("after-renew-response"));
      expect(killed.code).toBe(KILLED);
    }
    expect(generationOf(storedIdentity(bot.data))).toBe(1);
    const again = oneShot(auth, bot);
    expect(again.stderr).toContain("Renewed bot identity");
    expect(again.code).toBe(0);
    expect(generationOf(storedIdentity(bot.data))).toBe(2);
    expect(mismatches()).toEqual([]);
    expect(locks(auth)).toEqual([]);
  });

  test("a one-shot killed after the server used its single-use token joins on the next run, as the same instance", async () => {
    addBot(auth, "join-crash");
    const token = newToken(auth, "join-crash");
    const before = instanceIds(auth, "join-crash");
    const dirs = { data: join(work, "join-crash-data"), dest: join(work, "join-crash-out"), token };
    const killed = run(oneShotArgs(dirs), withFault("after-join-response"));
    expect(killed.code).toBe(KILLED);
    expect(existsSync(join(dirs.data, "tlscert"))).toBe(false);
    const made = instanceIds(auth, "join-crash").filter((i) => !before.includes(i));
    expect(made).toHaveLength(1);
    // Anyone else with the token (another key) is told it is used.
    const other = await tokenJoin(auth, token, await freshKey());
    expect(other.ok).toBe(false);
    expect((other as { message: string }).message).toContain("already used");
    // The bot itself, with the key it kept, gets its instance back.
    const again = oneShot(auth, dirs);
    expect(again.stderr).not.toContain("ERROR");
    expect(again.code).toBe(0);
    expect(instanceOf(storedIdentity(dirs.data))).toBe(made[0]!);
    expect(instanceIds(auth, "join-crash").filter((i) => !before.includes(i))).toEqual(made);
    // Once that identity is in use, the token is spent for good, even for the same key.
    const renewed = oneShot(auth, dirs);
    expect(renewed.code).toBe(0);
    expect(auth.auditLog().some((e) => e.event === "bot.join" && e.delivered_again === true)).toBe(true);
  });

  test("bound keypair: a lost registration and a lost recovery use no extra recovery and lock nothing", () => {
    tctlCreate(auth, join(work, "bk-bot.yaml"), botYaml("bk-lost"));
    tctlCreate(
      auth,
      join(work, "bk-token.yaml"),
      boundKeypairTokenYaml("bk-lost", "bk-lost", { limit: 2, onboarding: ["registration_secret: bk-s"] }),
    );
    const o = { token: "bk-lost", data: join(work, "bk-data"), dest: join(work, "bk-out"), secret: "bk-s" };
    const args = bkArgs(auth, { ...o, extra: ["--oneshot"] });
    expect(run(args, withFault("after-join-response")).code).toBe(KILLED);
    expect(tokenStatus(auth, "bk-lost").recovery_count).toBe(1);
    const registered = run(args);
    expect(registered.stderr).not.toContain("ERROR");
    expect(registered.code).toBe(0);
    expect(tokenStatus(auth, "bk-lost").recovery_count).toBe(1);
    // Certificates gone: the next join is a recovery; its response is lost too.
    rmSync(join(o.data, "tlscert"));
    expect(run(args, withFault("after-join-response")).code).toBe(KILLED);
    expect(tokenStatus(auth, "bk-lost").recovery_count).toBe(2);
    const recovered = run(args);
    expect(recovered.stderr).not.toContain("ERROR");
    expect(recovered.code).toBe(0);
    expect(tokenStatus(auth, "bk-lost").recovery_count).toBe(2);
    // And it refreshes on as usual.
    expect(run(args).code).toBe(0);
    expect(locks(auth)).toEqual([]);
    expect(events("bound_keypair.join_state_verification_failed")).toEqual([]);
  });
});

describe("one-shot retries what may pass by itself, never a denial", () => {
  test("the auth service down at start and back two seconds later: the one-shot retries and joins", async () => {
    addBot(auth, "retry");
    const dirs = {
      token: newToken(auth, "retry"),
      data: join(work, "retry-data"),
      dest: join(work, "retry-out"),
    };
    await auth.stop();
    const bot = scope.proc(startProcess(oneShotArgs(dirs)));
    await bot.waitFor(/One-shot attempt failed; retrying[^\n]*connection refused/);
    await auth.restart();
    expect(await bot.proc.exited).toBe(0);
    expect(bot.output()).toContain("Fetched new bot identity");
  });

  test("a daemon started while the auth service is down says it is waiting for it, then joins", async () => {
    addBot(auth, "daemon-wait");
    const dirs = {
      token: newToken(auth, "daemon-wait"),
      data: join(work, "daemon-wait-data"),
      dest: join(work, "daemon-wait-out"),
    };
    await auth.stop();
    const bot = scope.proc(startProcess([...legacyArgs(auth, dirs), "--renewal-interval", "1h"]));
    await bot.waitFor(/Could not get an identity yet; waiting for the auth server and retrying/);
    expect(bot.output()).not.toContain("keeping the last good outputs");
    await auth.restart();
    await bot.waitFor(/Generated output/, 30_000);
    expect(await bot.stop("SIGTERM")).toBe(0);
  });

  test("a denial (a token that does not exist) fails at once, without retrying", () => {
    const r = oneShot(auth, {
      token: "no-such-token",
      data: join(work, "deny-data"),
      dest: join(work, "deny-out"),
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("join token expired or not found");
    expect(r.stderr).not.toContain("retrying");
  });
});

describe("theft is still caught", () => {
  async function copiedAtFirstGeneration(name: string): Promise<RawIdentity> {
    addBot(auth, name);
    return value(await tokenJoin(auth, newToken(auth, name)));
  }

  test("copy at N−1; the original renews to N; the copy is served; the original presenting N is locked and audited", async () => {
    const copy = await copiedAtFirstGeneration("theft-1");
    const original = copy;
    const originalN = value(await renew(auth, original));
    const copyN = value(await renew(auth, copy));
    expect(generationOf(copyN)).toBe(2);
    expect((await outputCerts(auth, copyN)).ok).toBe(true);
    const caught = await renew(auth, originalN);
    expect(caught.ok).toBe(false);
    expect((caught as { message: string }).message).toContain("generation mismatch");
    expect(locks(auth).filter((l) => l.spec.target.bot_instance_id === instanceOf(copy))).toHaveLength(1);
    expect(mismatches().filter((e) => e.bot === "theft-1")).toHaveLength(1);
  });

  test("mirror order: the copy renews first; the original is served; the copy presenting N is locked", async () => {
    const original = await copiedAtFirstGeneration("theft-2");
    const copy = original;
    const copyN = value(await renew(auth, copy));
    const originalN = value(await renew(auth, original));
    expect(generationOf(originalN)).toBe(2);
    const caught = await renew(auth, copyN);
    expect(caught.ok).toBe(false);
    expect(locks(auth).filter((l) => l.spec.target.bot_instance_id === instanceOf(copy))).toHaveLength(1);
    expect(mismatches().filter((e) => e.bot === "theft-2")).toHaveLength(1);
  });

  test("as tbot renews (key kept for its retry): the copy at N−1 is refused and locked, not served; the bot's own retry is served", async () => {
    const original = await copiedAtFirstGeneration("theft-4");
    const copy = original;
    const kept = await freshKey();
    value(await renew(auth, original, { key: kept, keyKept: true })); // the answer is lost
    const retry = value(await renew(auth, original, { key: kept, keyKept: true }));
    expect(generationOf(retry)).toBe(2);
    const copyN = await renew(auth, copy, { keyKept: true });
    expect(copyN.ok).toBe(false);
    expect((copyN as { message: string }).message).toContain("generation mismatch");
    expect(locks(auth).filter((l) => l.spec.target.bot_instance_id === instanceOf(copy))).toHaveLength(1);
    // The instance is locked: nothing presented for it renews any more.
    const copyLegacy = await renew(auth, copy);
    expect(copyLegacy.ok).toBe(false);
  });

  test("once N is in use, N−1 is stale for good", async () => {
    const first = await copiedAtFirstGeneration("theft-3");
    const n = value(await renew(auth, first));
    expect((await outputCerts(auth, n)).ok).toBe(true);
    const stale = await renew(auth, first);
    expect(stale.ok).toBe(false);
    expect(mismatches().filter((e) => e.bot === "theft-3")).toHaveLength(1);
  });
});

const DB_FILES = ["tauth.db", "tauth.db-wal", "tauth.db-shm"];

/** Stop tauth, copy its database aside as `name`, start it again. */
async function backUp(name: string): Promise<void> {
  await auth.stop();
  for (const f of DB_FILES)
    if (existsSync(join(auth.dataDir, f))) copyFileSync(join(auth.dataDir, f), join(work, `${name}-${f}`));
  await auth.restart();
}

/** Stop tauth, put the database copied as `name` back in place of its own, start it again. */
async function restore(name: string): Promise<void> {
  await auth.stop();
  for (const f of DB_FILES) {
    rmSync(join(auth.dataDir, f), { force: true });
    if (existsSync(join(work, `${name}-${f}`)))
      copyFileSync(join(work, `${name}-${f}`), join(auth.dataDir, f));
  }
  await auth.restart();
}

describe("a restored database backup is not theft", () => {
  test("bots that renewed after the backup renew on, the counter moves past theirs, and it is audited", async () => {
    const bot = joinedBot("restored");
    addBot(auth, "restored-late");
    await backUp("backup");
    for (let i = 0; i < 3; i++) expect(oneShot(auth, bot).code).toBe(0);
    expect(generationOf(storedIdentity(bot.data))).toBe(4);
    // This bot's instance is made after the backup: the restored database has never heard of it.
    const late = {
      token: newToken(auth, "restored-late"),
      data: join(work, "restored-late-data"),
      dest: join(work, "restored-late-out"),
    };
    expect(oneShot(auth, late).code).toBe(0);
    await restore("backup");
    const after = oneShot(auth, bot);
    expect(after.stderr).not.toContain("ERROR");
    expect(after.code).toBe(0);
    expect(generationOf(storedIdentity(bot.data))).toBe(5);
    expect(oneShot(auth, bot).code).toBe(0);
    const lateAfter = oneShot(auth, late);
    expect(lateAfter.stderr).not.toContain("ERROR");
    expect(lateAfter.code).toBe(0);
    expect(instanceIds(auth, "restored-late")).toEqual([instanceOf(storedIdentity(late.data))]);
    const rollback = events("backend_rollback_detected");
    expect(rollback.map((e) => [e.bot, e.presented_generation])).toEqual([
      ["restored", 4],
      ["restored-late", 1],
    ]);
    expect(mismatches().filter((e) => String(e.bot).startsWith("restored"))).toEqual([]);
  });

  test("bound keypair bots whose tokens the backup holds unbound join again by themselves (secret and initial key)", async () => {
    const pub = JSON.parse(
      run([
        tbotBin,
        "keypair",
        "create",
        ...["--auth-server", auth.addr, "--ca-pin", auth.pin, "--storage", join(work, "bk-key-data")],
        ...["--format", "json"],
      ]).stdout,
    ).public_key as string;
    const bots = [
      { name: "bk-restored-secret", onboarding: ["registration_secret: bk-rs"], secret: "bk-rs" },
      { name: "bk-restored-key", onboarding: [`initial_public_key: "${pub}"`], data: "bk-key-data" },
    ];
    const argsOf = (b: (typeof bots)[number]) =>
      bkArgs(auth, {
        token: b.name,
        data: join(work, b.data ?? `${b.name}-data`),
        dest: join(work, `${b.name}-out`),
        ...(b.secret ? { secret: b.secret } : {}),
        extra: ["--oneshot"],
      });
    for (const b of bots) {
      tctlCreate(auth, join(work, `${b.name}-bot.yaml`), botYaml(b.name));
      tctlCreate(
        auth,
        join(work, `${b.name}-token.yaml`),
        boundKeypairTokenYaml(b.name, b.name, { limit: 1, onboarding: b.onboarding }),
      );
    }
    const locksBefore = locks(auth).length;
    await backUp("bk-backup");
    // Joined (the one recovery the limit allows) and refreshed, after the backup.
    for (const b of bots) for (let i = 0; i < 2; i++) expect(run(argsOf(b)).code).toBe(0);
    await restore("bk-backup");
    for (const b of bots) {
      expect(tokenStatus(auth, b.name).bound_public_key).toBeUndefined();
      const again = run(argsOf(b));
      expect(again.stderr).not.toContain("ERROR");
      expect(again.code).toBe(0);
      const st = tokenStatus(auth, b.name);
      expect(st.recovery_count).toBe(1);
      expect(st.bound_bot_instance_id).toBe(
        instanceOf(storedIdentity(join(work, b.data ?? `${b.name}-data`))),
      );
      // And it refreshes on as usual.
      expect(run(argsOf(b)).code).toBe(0);
    }
    expect(locks(auth)).toHaveLength(locksBefore);
    expect(
      events("bound_keypair.join_state_verification_failed").filter((e) =>
        String(e.token).startsWith("bk-restored"),
      ),
    ).toEqual([]);
  });

  test("an instance an operator removed stays removed: its certificates renew no more", () => {
    const bot = joinedBot("removed");
    const id = instanceOf(storedIdentity(bot.data));
    expect(auth.tctl(["rm", `bot_instance/${id}`]).code).toBe(0);
    const after = oneShot(auth, bot);
    expect(after.code).toBe(1);
    expect(after.stderr).toContain(`bot instance ${id} was removed`);
    expect(events("backend_rollback_detected").filter((e) => e.bot === "removed")).toEqual([]);
  });
});

function oneShotArgs(o: { data: string; dest: string; token: string }): string[] {
  return [...legacyArgs(auth, o), "--oneshot"];
}
