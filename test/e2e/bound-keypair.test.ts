// Bound keypair joining (reference §5, §1.7) on the compiled binary: the reference guide as
// written, pre-registered keys from `tbot keypair create`, recovery after an outage and its
// limit, a copied bot caught by its join state, key rotation (and a crash in the middle of
// one), and the denials — driven through tbot where a bot can cause them, and through the join
// protocol itself where only a hand-made message can (a replay, a late answer, a wrong signature).

import { beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { newBoundKey } from "../../src/join/bound-keypair/client.ts";
import type { BoundKeypairResult } from "../../src/join/bound-keypair/messages.ts";
import type { JoinResult } from "../../src/protocol/messages.ts";
import { tbotBin, tctlBin } from "../harness/binary.ts";
import {
  bkArgs,
  botYaml,
  boundKeypairTokenYaml,
  certInstanceId,
  challengeOf,
  expiredCopy,
  historyKeys,
  JoinDriver,
  locks,
  readLine,
  solution,
  tctlCreate,
  tokenStatus,
} from "../harness/bound-keypair.ts";
import { count, expectOneErrorLine, instanceIds, until } from "../harness/extra.ts";
import { cleanupAfterFile, run, startProcess, tempDir } from "../harness/proc.ts";
import { startTauth, type TauthHandle } from "../harness/tauth.ts";

cleanupAfterFile();

// Each test waits on real processes (joins, renewals, outages); none asserts how long anything takes.
setDefaultTimeout(60_000);

let auth: TauthHandle;
let work: string;

beforeAll(async () => {
  auth = await startTauth();
  work = tempDir("bound-keypair-");
});

/** A bot with the access role and a bound_keypair token for it. */
function botAndToken(
  h: TauthHandle,
  bot: string,
  token: string,
  o: Parameters<typeof boundKeypairTokenYaml>[2],
) {
  tctlCreate(h, join(work, `${bot}-bot.yaml`), botYaml(bot));
  tctlCreate(h, join(work, `${token}-token.yaml`), boundKeypairTokenYaml(token, bot, o));
}

function oneShot(
  o: { token: string; data: string; dest: string; secret?: string },
  env?: Record<string, string>,
) {
  return run([...bkArgs(auth, { ...o, extra: ["--oneshot"] })], env ? { env } : {});
}

function openssl(args: string[]): { code: number; out: string } {
  const r = run(["openssl", ...args]);
  return { code: r.code, out: r.stdout + r.stderr };
}

/** `openssl verify` of an output's tlscert against the user CA it was written with. */
function verifyOutput(dest: string): string {
  return openssl(["verify", "-CAfile", join(dest, "teleport-user-ca.crt"), join(dest, "tlscert")]).out;
}

function notAfter(cert: string): number {
  const out = openssl(["x509", "-in", cert, "-noout", "-enddate"]).out;
  return Date.parse(/notAfter=(.*)/.exec(out)![1]!);
}

function audit(event: string, token: string) {
  return auth.auditLog().filter((e) => e.event === event && e.token === token);
}

/** The text after the last match of `re` (empty if none). */
function afterLast(text: string, re: RegExp): string {
  const all = [...text.matchAll(new RegExp(re.source, "g"))];
  const last = all.at(-1);
  return last ? text.slice(last.index! + last[0].length) : "";
}

describe("bound keypair joining", () => {
  test("1. the reference guide as written: bot.yaml, token.yaml, secret via tctl | jq, tbot.yaml one-shot; then daemon renewals keep the instance and use no recovery", async () => {
    const dir = join(work, "guide");
    mkdirSync(dir);
    const botFile = join(dir, "bot.yaml");
    const tokenFile = join(dir, "token.yaml");
    writeFileSync(
      botFile,
      `kind: bot
version: v1
metadata:
  name: example
spec:
  roles: [access]
`,
    );
    writeFileSync(
      tokenFile,
      `kind: token
version: v2
metadata:
  name: example
spec:
  roles: [Bot]
  join_method: bound_keypair
  bot_name: example
  bound_keypair:
    recovery:
      mode: standard
      limit: 1
`,
    );
    for (const f of [botFile, tokenFile]) {
      const r = auth.tctl(["create", f]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
    }
    const tctl = `${tctlBin} --auth-server ${auth.addr} --identity ${auth.identity}`;
    const sh = run([
      "bash",
      "-c",
      `${tctl} get token/example --format=json | jq -r '.[0].status.bound_keypair.registration_secret'`,
    ]);
    expect(sh.code).toBe(0);
    const secret = sh.stdout.trim();
    expect(secret).toMatch(/^[0-9a-f]{64}$/);

    const data = join(dir, "tbot-data");
    const out = join(dir, "tbot-out");
    const cfg = join(dir, "tbot.yaml");
    writeFileSync(
      cfg,
      `version: v2
auth_server: ${auth.addr}
onboarding:
  join_method: bound_keypair
  token: example
  ca_pins: [${auth.pin}]
  bound_keypair:
    registration_secret: ${secret}
storage:
  type: directory
  path: ${data}
services:
  - type: identity
    destination:
      type: directory
      path: ${out}
`,
    );
    const first = run([tbotBin, "start", "-c", cfg, "--oneshot"]);
    expect(first.stderr).not.toContain("ERROR");
    expect(first.code).toBe(0);
    expect(verifyOutput(out)).toContain("tlscert: OK");
    for (const f of ["id_bkp", "id_bkp.pub", "bkp_state", "bkp_key_history.json"])
      expect(existsSync(join(data, f))).toBe(true);
    const joined = tokenStatus(auth, "example");
    expect(joined.bound_public_key).toBe(readLine(data, "id_bkp.pub"));
    expect(joined.recovery_count).toBe(1);
    expect(joined.registration_secret).toBeUndefined(); // used up by the first join
    const instance = joined.bound_bot_instance_id!;
    expect(certInstanceId(join(data, "tlscert"))).toBe(instance);
    expect(audit("bound_keypair.recovery", "example")).toHaveLength(1);
    expect(
      auth
        .auditLog()
        .some((e) => e.event === "bot.join" && e.bot === "example" && e.join_method === "bound_keypair"),
    ).toBe(true);
    // The secret is not in storage: after the first join the join state speaks for the bot.
    expect(readFileSync(join(data, "bkp_state"), "utf8")).not.toContain(secret);

    const certAfterOneShot = readFileSync(join(out, "tlscert"), "utf8");
    const daemon = startProcess([
      tbotBin,
      "start",
      "-c",
      cfg,
      "--certificate-ttl",
      "1m",
      "--renewal-interval",
      "1s",
    ]);
    await until(
      () =>
        count(/Renewed bot identity/, daemon.output()) >= 3 &&
        count(/Generated output/, daemon.output()) >= 3,
      "three renewals",
      20_000,
    );
    const renewals = [...daemon.output().matchAll(/Renewed bot identity .*instance:(\S+) generation:(\d+)/g)];
    expect(renewals.length).toBeGreaterThanOrEqual(3);
    for (const m of renewals) expect(m[1]).toBe(instance);
    const generations = renewals.map((m) => Number(m[2]));
    for (let i = 1; i < generations.length; i++) expect(generations[i]!).toBeGreaterThan(generations[i - 1]!);
    expect(daemon.output()).not.toContain("Fetched new bot identity");
    expect(await daemon.stop("SIGTERM")).toBe(0);
    expect(readFileSync(join(out, "tlscert"), "utf8")).not.toBe(certAfterOneShot);
    expect(verifyOutput(out)).toContain("tlscert: OK");
    expect(certInstanceId(join(out, "tlscert"))).toBe(instance);

    const after = tokenStatus(auth, "example");
    expect(after.recovery_count).toBe(1);
    expect(after.bound_bot_instance_id).toBe(instance);
    expect(after.last_recovered_at).toBe(joined.last_recovered_at);
    expect(after.bound_public_key).toBe(joined.bound_public_key);
    expect(instanceIds(auth, "example")).toEqual([instance]);
    expect(audit("bound_keypair.recovery", "example")).toHaveLength(1);
  });

  test("2. tbot keypair create: JSON and text output, no overwrite without --overwrite, and a join with the pre-registered key needs no secret", () => {
    const storage = join(work, "kp-data");
    const create = (extra: string[]) =>
      run([
        tbotBin,
        "keypair",
        "create",
        "--auth-server",
        auth.addr,
        "--ca-pin",
        auth.pin,
        "--storage",
        storage,
        ...extra,
      ]);
    const j = create(["--format", "json"]);
    expect(j.stderr).toBe("");
    expect(j.code).toBe(0);
    const pub = (JSON.parse(j.stdout) as { public_key: string }).public_key;
    expect(pub).toMatch(/^ssh-ed25519 AAAA[0-9A-Za-z+/]+=*$/);
    expect(readLine(storage, "id_bkp.pub")).toBe(pub);

    const text = create([]);
    expect(text.code).toBe(0);
    expect(text.stdout).toBe(
      "To register the keypair with Teleport, include this public key in the token's\n" +
        "`spec.bound_keypair.onboarding.initial_public_key`:\n\n" +
        `\t${pub}\n`,
    );
    expect(readLine(storage, "id_bkp.pub")).toBe(pub);

    botAndToken(auth, "kp-bot", "kp-token", { limit: 1, onboarding: [`initial_public_key: "${pub}"`] });
    expect(tokenStatus(auth, "kp-token").registration_secret).toBeUndefined();
    const dest = join(work, "kp-out");
    const r = run([...bkArgs(auth, { token: "kp-token", data: storage, dest, extra: ["--oneshot"] })], {
      env: { TBOT_REGISTRATION_SECRET: "" },
    });
    expect(r.stderr).not.toContain("ERROR");
    expect(r.code).toBe(0);
    expect(verifyOutput(dest)).toContain("tlscert: OK");
    const st = tokenStatus(auth, "kp-token");
    expect(st.bound_public_key).toBe(pub);
    expect(st.recovery_count).toBe(1);
    expect(st.bound_bot_instance_id).toBe(certInstanceId(join(storage, "tlscert")));
    // The pre-registered key was bound as it is: no rotation.
    expect(audit("bound_keypair.rotation", "kp-token")).toHaveLength(0);
    expect(audit("bound_keypair.recovery", "kp-token")).toHaveLength(1);
    expect(readLine(storage, "id_bkp.pub")).toBe(pub);

    // --overwrite makes a new key.
    const again = create(["--format", "json", "--overwrite"]);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout).public_key).not.toBe(pub);
  });

  test("3. after an outage longer than the TTL the running tbot recovers by itself; past recovery.limit it is refused until the limit is raised", async () => {
    const h = await startTauth();
    tctlCreate(h, join(work, "outage-bot.yaml"), botYaml("outage-bot"));
    const tokenFile = join(work, "outage-token.yaml");
    const tokenText = (limit: number) =>
      boundKeypairTokenYaml("outage", "outage-bot", {
        limit,
        onboarding: ["registration_secret: outage-secret"],
      });
    tctlCreate(h, tokenFile, tokenText(2));
    const data = join(work, "outage-data");
    const dest = join(work, "outage-out");
    const bot = startProcess(
      bkArgs(h, {
        token: "outage",
        data,
        dest,
        secret: "outage-secret",
        extra: ["--certificate-ttl", "5s", "--renewal-interval", "2s"],
      }),
    );
    await bot.waitFor(/Generated output/);
    const joined = tokenStatus(h, "outage");
    expect(joined.recovery_count).toBe(1);
    const certBefore = notAfter(join(dest, "tlscert"));
    const fetched = () => count(/Fetched new bot identity/, bot.output());
    const expiredSeen = () => count(/Stored identity has expired/, bot.output());

    // Outage 1: tauth is down until the bot's identity has expired.
    await h.stop();
    await until(() => expiredSeen() >= 1, "the bot's identity to expire during the outage", 30_000);
    expect(bot.output()).toContain("Renewal failed; keeping the last good outputs");
    expect(existsSync(join(dest, "tlscert"))).toBe(true);
    await h.restart();
    await until(
      () =>
        fetched() >= 2 && afterLast(bot.output(), /Fetched new bot identity/).includes("Generated output"),
      "the bot to recover after the outage",
      30_000,
    );
    const recovered = tokenStatus(h, "outage");
    expect(recovered.recovery_count).toBe(2);
    expect(recovered.bound_bot_instance_id).not.toBe(joined.bound_bot_instance_id);
    expect(Date.parse(recovered.last_recovered_at!)).toBeGreaterThan(Date.parse(joined.last_recovered_at!));
    expect(recovered.bound_public_key).toBe(joined.bound_public_key);
    expect(verifyOutput(dest)).toContain("tlscert: OK");
    expect(certInstanceId(join(dest, "tlscert"))).toBe(recovered.bound_bot_instance_id!);
    expect(notAfter(join(dest, "tlscert"))).toBeGreaterThan(certBefore);
    expect(
      h
        .auditLog()
        .some((e) => e.event === "bound_keypair.recovery" && e.token === "outage" && e.recovery_count === 2),
    ).toBe(true);

    // Outage 2: the limit (2) is used up, so the recovery is refused, with what to do about it.
    const expiredBefore = expiredSeen();
    await h.stop();
    await until(() => expiredSeen() > expiredBefore, "the identity to expire again", 30_000);
    await h.restart();
    const refusal = await bot.waitFor(/ERROR[^\n]*recovery limit reached[^\n]*/, 30_000);
    expect(refusal).toContain("recovery.limit");
    expect(refusal).toContain('token "outage"');
    expect(bot.proc.exitCode).toBeNull(); // a daemon keeps trying
    expect(fetched()).toBe(2);
    expect(tokenStatus(h, "outage").recovery_count).toBe(2);
    expect(
      h
        .auditLog()
        .some((e) => e.event === "bot.join.failed" && /recovery limit reached/.test(String(e.reason))),
    ).toBe(true);

    // Raising the limit lets the same, still running tbot through; the status survived create -f.
    tctlCreate(h, tokenFile, tokenText(3), true);
    await until(
      () =>
        fetched() >= 3 && afterLast(bot.output(), /Fetched new bot identity/).includes("Generated output"),
      "the bot to recover once the limit is raised",
      30_000,
    );
    const raised = tokenStatus(h, "outage");
    expect(raised.recovery_count).toBe(3);
    expect(raised.bound_bot_instance_id).not.toBe(recovered.bound_bot_instance_id);
    expect(raised.bound_public_key).toBe(joined.bound_public_key);
    expect(verifyOutput(dest)).toContain("tlscert: OK");
    expect(await bot.stop("SIGTERM")).toBe(0);
    await h.stop();
  }, 150_000);

  test("4a. a storage directory copied to a second running tbot: the stale copy is caught at its next join and the token is locked", async () => {
    botAndToken(auth, "copy-bot", "copy-token", {
      limit: 1,
      onboarding: ["registration_secret: copy-secret"],
    });
    const a = join(work, "copy-a");
    const b = join(work, "copy-b");
    const daemonArgs = (data: string, dest: string) =>
      bkArgs(auth, {
        token: "copy-token",
        data,
        dest,
        secret: "copy-secret",
        extra: ["--certificate-ttl", "1m", "--renewal-interval", "1s"],
      });
    const botA = startProcess(daemonArgs(a, join(work, "copy-out-a")));
    await botA.waitFor(/Generated output/);
    // Copy A's storage while A runs (paused for the copy so it is one consistent snapshot).
    process.kill(botA.pid, "SIGSTOP");
    const cp = run(["cp", "-a", a, b]);
    process.kill(botA.pid, "SIGCONT");
    expect(cp.code).toBe(0);
    // A moves on past the copied certificate: from now on B holds a stale one.
    const renewedA = count(/Renewed bot identity/, botA.output());
    await until(() => count(/Renewed bot identity/, botA.output()) > renewedA, "A's next renewal");
    const botB = startProcess(daemonArgs(b, join(work, "copy-out-b")));
    // (A retry after "the token changed while this join was in progress" may come first.)
    const caught = await botB.waitFor(/ERROR[^\n]*is now locked[^\n]*/);
    expect(caught).toContain("is not the instance's newest; the bot's state may have been copied");
    expect(caught).toContain('Token "copy-token" is now locked');
    expect(botB.output()).not.toContain("Renewed bot identity");

    expect(locks(auth).some((l) => l.spec.target.join_token === "copy-token")).toBe(true);
    const failed = audit("bound_keypair.join_state_verification_failed", "copy-token");
    expect(failed).toHaveLength(1);
    expect(String(failed[0]!.reason)).toMatch(/generation/);
    // The lock stops the original too, until an administrator looks into it.
    await botA.waitFor(/ERROR[^\n]*join denied: locked/);
    expect(tokenStatus(auth, "copy-token").recovery_count).toBe(1);
    await Promise.all([botA.stop("SIGTERM"), botB.stop("SIGTERM")]);
  });

  test("4b. a copy that recovers after the original did presents a stale join state: denied, token locked, audited", () => {
    botAndToken(auth, "stale-bot", "stale-token", {
      limit: 3,
      onboarding: ["registration_secret: stale-secret"],
    });
    const a = join(work, "stale-a");
    const c = join(work, "stale-c");
    expect(
      oneShot({ token: "stale-token", data: a, dest: join(work, "stale-out-a"), secret: "stale-secret" })
        .code,
    ).toBe(0);
    expect(run(["cp", "-a", a, c]).code).toBe(0);
    // The original loses its certificate and recovers: the join state moves to sequence 2.
    rmSync(join(a, "tlscert"));
    const recovered = oneShot({ token: "stale-token", data: a, dest: join(work, "stale-out-a") });
    expect(recovered.stderr).toContain("Fetched new bot identity");
    expect(recovered.code).toBe(0);
    expect(tokenStatus(auth, "stale-token").recovery_count).toBe(2);
    // The copy tries the same, with the join state of sequence 1.
    rmSync(join(c, "tlscert"));
    const line = expectOneErrorLine(
      oneShot({ token: "stale-token", data: c, dest: join(work, "stale-out-c") }),
    );
    expect(line).toContain("join state is stale (recovery sequence 1, expected 2)");
    expect(line).toContain('Token "stale-token" is now locked');
    expect(locks(auth).some((l) => l.spec.target.join_token === "stale-token")).toBe(true);
    expect(audit("bound_keypair.join_state_verification_failed", "stale-token")).toHaveLength(1);
    expect(tokenStatus(auth, "stale-token").recovery_count).toBe(2);
    const locked = expectOneErrorLine(
      oneShot({ token: "stale-token", data: a, dest: join(work, "stale-out-a") }),
    );
    expect(locked).toContain("locked");
  });

  test("5. rotate_after in the past rotates the key at the next join; the old key is refused; a crash right after saving the new key is recovered", async () => {
    botAndToken(auth, "rot-bot", "rot-token", { limit: 3, onboarding: ["registration_secret: rot-secret"] });
    const data = join(work, "rot-data");
    const dest = join(work, "rot-out");
    expect(oneShot({ token: "rot-token", data, dest, secret: "rot-secret" }).code).toBe(0);
    const before = tokenStatus(auth, "rot-token");
    const key1 = readLine(data, "id_bkp.pub");
    expect(before.bound_public_key).toBe(key1);
    const oldCopy = join(work, "rot-old");
    expect(run(["cp", "-a", data, oldCopy]).code).toBe(0);
    const rotationsBefore = audit("bound_keypair.rotation", "rot-token").length;

    const rot = auth.tctl(["bound-keypair", "rotate", "rot-token"]);
    expect(rot.code).toBe(0);
    const rotateAfter = /rotate_after (\S+)\)/.exec(rot.stdout)![1]!;
    const spec = JSON.parse(auth.tctl(["get", "token/rot-token", "--format=json"]).stdout)[0].spec;
    expect(spec.bound_keypair.rotate_after).toBe(rotateAfter);

    const r = oneShot({ token: "rot-token", data, dest });
    expect(r.stderr).not.toContain("ERROR");
    expect(r.code).toBe(0);
    const key2 = readLine(data, "id_bkp.pub");
    expect(key2).not.toBe(key1);
    const rotated = tokenStatus(auth, "rot-token");
    expect(rotated.bound_public_key).toBe(key2);
    expect(Date.parse(rotated.last_rotated_at!)).toBeGreaterThanOrEqual(Date.parse(rotateAfter));
    expect(Date.parse(rotated.last_rotated_at!)).toBeGreaterThan(
      Date.parse(before.last_rotated_at ?? "1970-01-01Z"),
    );
    // A rotation over a refresh keeps the instance and uses no recovery.
    expect(rotated.recovery_count).toBe(1);
    expect(rotated.bound_bot_instance_id).toBe(before.bound_bot_instance_id);
    const rotations = audit("bound_keypair.rotation", "rot-token");
    expect(rotations).toHaveLength(rotationsBefore + 1);
    expect(rotations.at(-1)!.public_key).toBe(key2);
    expect(historyKeys(data)).toEqual(expect.arrayContaining([key1, key2]));
    expect(verifyOutput(dest)).toContain("tlscert: OK");

    // The old key is refused. A bot holding only it (the storage from before the rotation,
    // its certificate lost so it must recover) is asked for the new key and cannot answer…
    rmSync(join(oldCopy, "tlscert"));
    const old = expectOneErrorLine(
      oneShot({ token: "rot-token", data: oldCopy, dest: join(work, "rot-old-out") }),
    );
    expect(old).toContain("a key this bot does not hold");
    // …and a signature by the old key, sent by hand, does not verify.
    const driver = await JoinDriver.create(auth, "rot-token");
    const joinState = JSON.parse(readFileSync(join(oldCopy, "bkp_state"), "utf8")).join_state as string;
    const ch = challengeOf(await driver.begin({ previous_join_state: joinState }));
    expect(ch.challenge.type === "bound_keypair_challenge" && ch.challenge.public_key).toBe(key2);
    const denied = await driver.answer(
      ch.continuation,
      solution(ch.challenge, readFileSync(join(oldCopy, "id_bkp"), "utf8")),
    );
    expect(denied).toMatchObject({ ok: false, code: "access_denied" });
    expect(!denied.ok && denied.message).toContain("challenge verification failed");
    expect(tokenStatus(auth, "rot-token")).toEqual(rotated);

    // Crash test: tbot dies (SIGKILL) right after saving the new key, before the cluster sees it.
    expect(auth.tctl(["bound-keypair", "rotate", "rot-token"]).code).toBe(0);
    const historyBefore = historyKeys(data);
    const crashed = Bun.spawnSync(bkArgs(auth, { token: "rot-token", data, dest, extra: ["--oneshot"] }), {
      env: { ...process.env, TBOT_FAULT_INJECT: "kill-after-rotation-key-saved" },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(crashed.signalCode).toBe("SIGKILL");
    const historyAfterCrash = historyKeys(data);
    expect(historyAfterCrash).toHaveLength(historyBefore.length + 1);
    const unsent = historyAfterCrash.at(-1)!;
    expect(historyBefore).not.toContain(unsent);
    expect(readLine(data, "id_bkp.pub")).toBe(key2); // not current: it was never bound
    expect(tokenStatus(auth, "rot-token").bound_public_key).toBe(key2);

    const rerun = oneShot({ token: "rot-token", data, dest });
    expect(rerun.stderr).not.toContain("ERROR");
    expect(rerun.code).toBe(0);
    const final = tokenStatus(auth, "rot-token");
    const key3 = readLine(data, "id_bkp.pub");
    expect(final.bound_public_key).toBe(key3);
    expect(key3).not.toBe(key2);
    expect(historyKeys(data)).toContain(final.bound_public_key!);
    expect(Date.parse(final.last_rotated_at!)).toBeGreaterThan(Date.parse(rotated.last_rotated_at!));
    expect(final.recovery_count).toBe(1);
    expect(verifyOutput(dest)).toContain("tlscert: OK");
  });

  test("6a. a replayed solution is refused: each join step can be answered once", async () => {
    const key = await newBoundKey();
    botAndToken(auth, "replay-bot", "replay-token", {
      limit: 2,
      onboarding: [`initial_public_key: "${key.publicKey}"`],
    });
    const driver = await JoinDriver.create(auth, "replay-token");
    const ch = challengeOf(await driver.begin());
    expect(ch.challenge).toMatchObject({ type: "bound_keypair_challenge", public_key: key.publicKey });
    const sol = solution(ch.challenge, key.privateKeyPem);
    const first = await driver.answer(ch.continuation, sol);
    expect(first.ok && first.res.type).toBe("result");
    const result = (first as { res: JoinResult }).res;
    expect((result.method_result as unknown as BoundKeypairResult).public_key).toBe(key.publicKey);
    const replay = await driver.answer(ch.continuation, sol);
    expect(replay).toMatchObject({ ok: false, code: "access_denied" });
    expect(!replay.ok && replay.message).toBe(
      "this join step was already answered (a replayed solution); start the join again",
    );
    const st = tokenStatus(auth, "replay-token");
    expect(st.recovery_count).toBe(1);
    expect(instanceIds(auth, "replay-bot")).toEqual([st.bound_bot_instance_id!]);
  });

  test("6b. an answer to an expired challenge is refused; the same answer in time is accepted", async () => {
    const key = await newBoundKey();
    botAndToken(auth, "late-bot", "late-answer-token", {
      limit: 1,
      onboarding: [`initial_public_key: "${key.publicKey}"`],
    });
    const driver = await JoinDriver.create(auth, "late-answer-token");
    const ch = challengeOf(await driver.begin());
    const sol = solution(ch.challenge, key.privateKeyPem);
    const late = await driver.answer(expiredCopy(auth, ch.continuation), sol);
    expect(late).toMatchObject({ ok: false, code: "access_denied" });
    expect(!late.ok && late.message).toBe(
      "the join challenge expired (it is valid for 60 seconds); start the join again",
    );
    expect(tokenStatus(auth, "late-answer-token").bound_public_key).toBeUndefined();
    // Only its age differed: the untouched continuation with the same solution succeeds.
    const inTime = await driver.answer(ch.continuation, sol);
    expect(inTime.ok && inTime.res.type).toBe("result");
    expect(tokenStatus(auth, "late-answer-token").bound_public_key).toBe(key.publicKey);
    // A continuation that was tampered with (not signed by the cluster) is refused as such.
    const [body, mac] = ch.continuation.split(".");
    const forged = await driver.answer(`${body}x.${mac}`, sol);
    expect(!forged.ok && forged.message).toContain("not issued by this cluster");
  });

  test("6c. a signature by the wrong key is refused (by hand at the server, and by tbot holding another key)", async () => {
    const key = await newBoundKey();
    const other = await newBoundKey();
    botAndToken(auth, "wrongkey-bot", "wrongkey-token", {
      limit: 1,
      onboarding: [`initial_public_key: "${key.publicKey}"`],
    });
    const driver = await JoinDriver.create(auth, "wrongkey-token");
    const ch = challengeOf(await driver.begin());
    const denied = await driver.answer(ch.continuation, solution(ch.challenge, other.privateKeyPem));
    expect(denied).toMatchObject({ ok: false, code: "access_denied" });
    expect(!denied.ok && denied.message).toMatch(/^challenge verification failed: /);
    const st = tokenStatus(auth, "wrongkey-token");
    expect(st.bound_public_key).toBeUndefined();
    expect(st.recovery_count ?? 0).toBe(0);
    expect(
      audit("bot.join.failed", "wrongkey-token").some((e) =>
        /challenge verification failed/.test(String(e.reason)),
      ),
    ).toBe(true);

    // tbot with a key of its own that is not the token's: it cannot answer and says so.
    const storage = join(work, "wrongkey-data");
    const kc = run([
      tbotBin,
      "keypair",
      "create",
      "--auth-server",
      auth.addr,
      "--ca-pin",
      auth.pin,
      "--storage",
      storage,
      "--format",
      "json",
    ]);
    expect(kc.code).toBe(0);
    const line = expectOneErrorLine(
      oneShot({ token: "wrongkey-token", data: storage, dest: join(work, "wrongkey-out") }),
    );
    expect(line).toContain("a key this bot does not hold");
    expect(tokenStatus(auth, "wrongkey-token").bound_public_key).toBeUndefined();
  });

  test("6d. a wrong registration secret and a late one (must_register_before passed) are refused", () => {
    botAndToken(auth, "secret-bot", "secret-token", {
      limit: 1,
      onboarding: ["registration_secret: right-secret"],
    });
    const wrong = expectOneErrorLine(
      oneShot({
        token: "secret-token",
        data: join(work, "secret-data"),
        dest: join(work, "secret-out"),
        secret: "wrong",
      }),
    );
    expect(wrong).toBe('ERROR: a valid registration secret is required to join with token "secret-token"');
    const missing = expectOneErrorLine(
      oneShot({ token: "secret-token", data: join(work, "secret-data-2"), dest: join(work, "secret-out") }),
    );
    expect(missing).toContain("a valid registration secret is required");
    const st = tokenStatus(auth, "secret-token");
    expect(st.bound_public_key).toBeUndefined();
    expect(st.registration_secret).toBe("right-secret");
    expect(existsSync(join(work, "secret-out", "tlscert"))).toBe(false);

    tctlCreate(
      auth,
      join(work, "deadline-token.yaml"),
      boundKeypairTokenYaml("deadline-token", "secret-bot", {
        limit: 1,
        onboarding: ["registration_secret: late-secret", 'must_register_before: "2020-01-01T00:00:00Z"'],
      }),
    );
    const late = expectOneErrorLine(
      oneShot({
        token: "deadline-token",
        data: join(work, "deadline-data"),
        dest: join(work, "deadline-out"),
        secret: "late-secret",
      }),
    );
    expect(late).toContain('the registration deadline of token "deadline-token" (2020-01-01T00:00:00');
    expect(late).toContain("has passed");
    expect(tokenStatus(auth, "deadline-token").bound_public_key).toBeUndefined();
    expect(audit("bot.join.failed", "deadline-token")).toHaveLength(1);
  });

  test("6e. a malformed initial_public_key is refused by tctl create with file:line:col", () => {
    const file = join(work, "badkey-token.yaml");
    const text = boundKeypairTokenYaml("badkey-token", "example", {
      onboarding: ['initial_public_key: "ssh-ed25519 AAAAnot-a-key"'],
    });
    writeFileSync(file, text);
    const lines = text.split("\n");
    const lineNo = lines.findIndex((l) => l.includes("initial_public_key")) + 1;
    const col = lines[lineNo - 1]!.indexOf('"') + 1;
    const r = auth.tctl(["create", file]);
    const line = expectOneErrorLine(r);
    expect(line.startsWith(`ERROR: ${file}:${lineNo}:${col}: `)).toBe(true);
    expect(line).toContain("initial_public_key");
    expect(auth.tctl(["get", "token/badkey-token"]).code).toBe(1);
  });

  test("7. the join URI from tctl bots add --join-method=bound_keypair works with tbot start --join-uri", () => {
    const r = auth.tctl([
      "bots",
      "add",
      "uri-bot",
      "--roles=access",
      "--join-method=bound_keypair",
      "--format=json",
    ]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const grant = JSON.parse(r.stdout) as { join_uri: string; ca_pins: string[]; token_id: string };
    expect(grant.ca_pins).toEqual([auth.pin]);
    expect(grant.join_uri).toMatch(
      new RegExp(
        `^tbot\\+auth\\+bound-keypair://${grant.token_id}:[0-9a-f]{64}@${auth.addr.replaceAll(".", "\\.")}$`,
      ),
    );
    const data = join(work, "uri-data");
    const dest = join(work, "uri-out");
    const start = () =>
      run([
        tbotBin,
        "start",
        "--join-uri",
        grant.join_uri,
        "--ca-pin",
        grant.ca_pins[0]!,
        "--destination-dir",
        dest,
        "--data-dir",
        data,
        "--oneshot",
      ]);
    const first = start();
    expect(first.stderr).not.toContain("ERROR");
    expect(first.code).toBe(0);
    expect(verifyOutput(dest)).toContain("tlscert: OK");
    const st = tokenStatus(auth, grant.token_id);
    expect(st.bound_public_key).toBe(readLine(data, "id_bkp.pub"));
    expect(st.recovery_count).toBe(1);
    // Run again with the same URI: the secret is spent, the join state carries the bot.
    const second = start();
    expect(second.code).toBe(0);
    expect(second.stderr).toContain("Renewed bot identity");
    expect(tokenStatus(auth, grant.token_id).recovery_count).toBe(1);
  });
});

describe("administrator rebinding (reference §5.8)", () => {
  test("a new initial_public_key set with create -f unbinds the old key; the new bot joins, the old one is refused", () => {
    const dir = join(work, "rebind");
    mkdirSync(dir, { recursive: true });
    tctlCreate(auth, join(dir, "bot.yaml"), botYaml("rebind"));
    const tokenPath = join(dir, "token.yaml");
    tctlCreate(auth, tokenPath, boundKeypairTokenYaml("rebind", "rebind", { limit: 1 }));
    const secret = tokenStatus(auth, "rebind").registration_secret!;
    const oldBot = { token: "rebind", data: join(dir, "old-data"), dest: join(dir, "old-out") };
    expect(run(bkArgs(auth, { ...oldBot, secret, extra: ["--oneshot"] })).code).toBe(0);
    const oldKey = tokenStatus(auth, "rebind").bound_public_key!;

    // The machine is replaced: a key made on the new one, bound by the operator, limit raised.
    const made = run([
      tbotBin,
      "keypair",
      "create",
      "--auth-server",
      auth.addr,
      "--ca-pin",
      auth.pin,
      "--storage",
      join(dir, "new-data"),
      "--format",
      "json",
    ]);
    expect(made.code).toBe(0);
    const newKey = JSON.parse(made.stdout).public_key as string;
    tctlCreate(
      auth,
      tokenPath,
      boundKeypairTokenYaml("rebind", "rebind", {
        limit: 2,
        onboarding: [`initial_public_key: "${newKey}"`],
      }),
      true,
    );
    const st = tokenStatus(auth, "rebind");
    expect(st.bound_public_key).toBeUndefined();
    expect(st.recovery_count).toBe(1);

    const joined = run(
      bkArgs(auth, {
        token: "rebind",
        data: join(dir, "new-data"),
        dest: join(dir, "new-out"),
        extra: ["--oneshot"],
      }),
    );
    expect(joined.stderr).not.toContain("ERROR");
    expect(joined.code).toBe(0);
    const after = tokenStatus(auth, "rebind");
    expect(after.bound_public_key).toBe(newKey);
    expect(after.bound_public_key).not.toBe(oldKey);
    expect(after.recovery_count).toBe(2);

    // The old machine, if it comes back (with a recovery to spare: re-applying the same key
    // does not unbind), cannot sign for the new key: it is refused at the challenge. A failed
    // proof is a denial, never a lock — whoever names a token without its key changes nothing.
    tctlCreate(
      auth,
      tokenPath,
      boundKeypairTokenYaml("rebind", "rebind", {
        limit: 3,
        onboarding: [`initial_public_key: "${newKey}"`],
      }),
      true,
    );
    expect(tokenStatus(auth, "rebind").bound_public_key).toBe(newKey);
    rmSync(join(oldBot.data, "tlscert"));
    const old = run(bkArgs(auth, { ...oldBot, extra: ["--oneshot"] }));
    expect(old.code).toBe(1);
    expect(old.stderr).toContain("a key this bot does not hold");
    expect(locks(auth).some((l) => l.spec.target.join_token === "rebind")).toBe(false);
    expect(tokenStatus(auth, "rebind").bound_public_key).toBe(newKey);
  });
});

describe("client secret and static key sources", () => {
  test("registration_secret_path and TBOT_REGISTRATION_SECRET each carry the secret", () => {
    const dir = join(work, "secret-sources");
    mkdirSync(dir, { recursive: true });
    for (const [i, how] of (["path", "env"] as const).entries()) {
      const bot = `src-${how}`;
      tctlCreate(auth, join(dir, `${bot}.yaml`), botYaml(bot));
      tctlCreate(auth, join(dir, `${bot}-token.yaml`), boundKeypairTokenYaml(bot, bot));
      const secret = tokenStatus(auth, bot).registration_secret!;
      const secretFile = join(dir, `secret-${i}`);
      writeFileSync(secretFile, `${secret}\n`, { mode: 0o600 });
      const args = bkArgs(auth, {
        token: bot,
        data: join(dir, `${how}-data`),
        dest: join(dir, `${how}-out`),
        extra: ["--oneshot"],
      });
      const r =
        how === "path"
          ? run([...args, "--registration-secret-path", secretFile])
          : run(args, { env: { TBOT_REGISTRATION_SECRET: secret } });
      expect(r.stderr).not.toContain("ERROR");
      expect(r.code).toBe(0);
      expect(tokenStatus(auth, bot).recovery_count).toBe(1);
    }
  });

  test("a static key (keypair create --static) joins an insecure-mode token again and again with no stored state", () => {
    const dir = join(work, "static");
    mkdirSync(dir, { recursive: true });
    const made = run([
      tbotBin,
      "keypair",
      "create",
      "--static",
      "--auth-server",
      auth.addr,
      "--ca-pin",
      auth.pin,
      "--format",
      "json",
    ]);
    expect(made.code).toBe(0);
    const { public_key: pub, private_key: b64 } = JSON.parse(made.stdout) as {
      public_key: string;
      private_key: string;
    };
    tctlCreate(auth, join(dir, "bot.yaml"), botYaml("static"));
    tctlCreate(
      auth,
      join(dir, "token.yaml"),
      boundKeypairTokenYaml("static", "static", {
        mode: "insecure",
        limit: 0,
        onboarding: [`initial_public_key: "${pub}"`],
      }),
    );
    for (let i = 0; i < 3; i++) {
      // A fresh storage each time: an ephemeral CI job that keeps nothing between runs.
      const r = run(
        bkArgs(auth, {
          token: "static",
          data: join(dir, `data-${i}`),
          dest: join(dir, `out-${i}`),
          extra: ["--oneshot"],
        }),
        {
          env: { TBOT_BOUND_KEYPAIR_STATIC_KEY: b64 },
        },
      );
      expect(r.stderr).not.toContain("ERROR");
      expect(r.code).toBe(0);
    }
    const st = tokenStatus(auth, "static");
    expect(st.bound_public_key).toBe(pub);
    expect(st.recovery_count).toBe(3);
    expect(locks(auth).some((l) => l.spec.target.join_token === "static")).toBe(false);
  });
});
