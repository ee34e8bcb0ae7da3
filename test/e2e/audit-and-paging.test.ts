// Two tauth replicas (the compiled binary) on one PostgreSQL: the audit log is shared, so
// events made through either replica are listed by `tctl audit ls` through both, and its
// --kind, --bot, --since/--until and --limit filters hold; listings larger than a page come
// back complete (TCTL_PAGE_SIZE small); `tauth admin-identity` against the PostgreSQL
// config issues an identity that tctl can use through either replica.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tauthBin, tctlBin } from "../harness/binary.ts";
import { legacyArgs } from "../harness/extra.ts";
import { type PgServer, startPostgres, stopAllPostgres } from "../harness/postgres.ts";
import { cleanupAfterFile, type RunResult, run, tempDir } from "../harness/proc.ts";
import { startTauth, type TauthHandle } from "../harness/tauth.ts";

// Graceful PostgreSQL stop first; cleanupAfterFile's SIGKILL sweep after it.
afterAll(stopAllPostgres);
cleanupAfterFile();

const PASSWORD = "audit-Pa55-not-in-logs";
let pg: PgServer;
let url: string;
let a: TauthHandle;
let b: TauthHandle;

interface Event {
  event_id: string;
  time: string;
  event: string;
  [k: string]: unknown;
}

/** A tauth.yaml for another host of the same cluster. */
function replicaConfig(): { dir: string; cfg: string } {
  const dir = tempDir("audit-replica-");
  const cfg = join(dir, "tauth.yaml");
  writeFileSync(
    cfg,
    `data_dir: ${join(dir, "data")}\nstorage:\n  type: postgresql\n  conn_string: "${url}"\n`,
    {
      mode: 0o600,
    },
  );
  return { dir, cfg };
}

beforeAll(async () => {
  pg = await startPostgres();
  pg.createRole("tauth", PASSWORD);
  pg.createDatabase("tauth", "tauth");
  url = pg.url({ user: "tauth", password: PASSWORD, database: "tauth" });
  a = await startTauth({ extraArgs: ["--conn-string", url] });
  const { dir, cfg } = replicaConfig();
  b = await startTauth({ dataDir: join(dir, "data"), extraArgs: ["-c", cfg] });
}, 120_000);

/** tctl through a replica, with a page size and another identity if given. */
function tctl(h: TauthHandle, args: string[], o: { pageSize?: number; identity?: string } = {}): RunResult {
  return run([tctlBin, "--auth-server", h.addr, "--identity", o.identity ?? h.identity, ...args], {
    env: o.pageSize ? { TCTL_PAGE_SIZE: String(o.pageSize) } : {},
  });
}

function ok(r: RunResult): string {
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return r.stdout;
}

const audit = (h: TauthHandle, args: string[] = [], pageSize?: number): Event[] =>
  JSON.parse(ok(tctl(h, ["audit", "ls", "--format=json", ...args], { pageSize })));

const tokenOf = (h: TauthHandle, bot: string) =>
  JSON.parse(ok(tctl(h, ["bots", "add", bot, "--roles=access", "--format=json"]))).token_id as string;

describe("the audit log is shared by the replicas", () => {
  test("events made through A and through B are listed, the same, through either", () => {
    tokenOf(a, "alpha");
    tokenOf(b, "beta");
    ok(tctl(b, ["bots", "update", "alpha", "--add-logins=root"]));
    ok(tctl(a, ["lock", "--bot", "beta", "--message", "audit test"]));
    const viaA = audit(a);
    const viaB = audit(b, [], 3);
    expect(viaB).toEqual(viaA);
    const kinds = viaA.map((e) => `${e.event} ${e.bot ?? e.name ?? ""}`);
    for (const k of ["resource.create alpha", "resource.create beta", "bot.update alpha", "lock.create "])
      expect(kinds).toContain(k);
    // Both replicas' starts, told apart by their listen addresses.
    const starts = viaA.filter((e) => e.event === "auth.start").map((e) => e.listen);
    expect(starts).toEqual(expect.arrayContaining([a.addr, b.addr]));
    // Oldest first, each once.
    expect(viaA.map((e) => e.event_id)).toEqual([...viaA.map((e) => e.event_id)].sort());
    expect(new Set(viaA.map((e) => e.event_id)).size).toBe(viaA.length);
  });

  test("a bot joining through B is in the log read through A", () => {
    const token = tokenOf(a, "joiner");
    const work = tempDir("audit-bot-");
    const join_ = run([
      ...legacyArgs(b, { data: join(work, "data"), dest: join(work, "out"), token }),
      "--oneshot",
    ]);
    expect(join_.code).toBe(0);
    const joins = audit(a, ["--kind=bot.join"]);
    expect(joins.map((e) => e.bot)).toEqual(["joiner"]);
    expect(JSON.stringify(joins)).not.toContain(token);
  });

  test("--kind, --bot, --since/--until and --limit", () => {
    const all = audit(a);
    const updates = audit(b, ["--kind=bot.update"]);
    expect(updates.map((e) => [e.event, e.bot])).toEqual([["bot.update", "alpha"]]);
    expect(audit(a, ["--kind=bot.update,lock.create"]).map((e) => e.event)).toEqual([
      "bot.update",
      "lock.create",
    ]);
    const beta = audit(b, ["--bot=beta"]);
    expect(beta.map((e) => e.event)).toEqual(["resource.create", "join_token.create", "lock.create"]);

    // Since the update's own time: exactly the events at or after it, whatever their order.
    const t = updates[0]!.time;
    expect(audit(b, [`--since=${t}`], 2)).toEqual(all.filter((e) => e.time >= t));
    expect(audit(a, [`--until=${t}`])).toEqual(all.filter((e) => e.time <= t));
    expect(audit(a, ["--since=1h"])).toEqual(all);
    expect(audit(a, ["--since=2099-01-01T00:00:00Z"])).toEqual([]);
    expect(audit(a, ["--limit=3"], 2)).toEqual(all.slice(0, 3));

    const text = ok(tctl(a, ["audit", "ls", "--kind=bot.update"]))
      .trimEnd()
      .split("\n");
    expect(text[0]).toMatch(/^Time\s+Kind\s+Bot\/Actor\s+Details$/);
    expect(text[2]).toMatch(
      new RegExp(
        `^${t.replace(/\./g, "\\.")}\\s+bot\\.update\\s+alpha \\(by admin:[0-9a-f-]{36}\\)\\s+changes=`,
      ),
    );
    expect(text.length).toBe(3);

    const bad = tctl(a, ["audit", "ls", "--since=yesterday"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("--since must be a duration such as 2h or an RFC 3339 time");
  });
});

describe("listings larger than a page come back complete", () => {
  const N = 250;
  const secret = (i: number) => `paging-secret-${i}-${"x".repeat(20)}`;
  const masked = (name: string) => `sha256:${createHash("sha256").update(name).digest("hex").slice(0, 16)}`;

  test(`${N} bots and ${N} tokens from one file each, listed in pages of 7 through either replica`, () => {
    const dir = tempDir("audit-paging-");
    const bots = [...Array(N).keys()]
      .map(
        (i) =>
          `kind: bot\nversion: v1\nmetadata:\n  name: fleet-${String(i).padStart(3, "0")}\nspec:\n  roles: [access]\n`,
      )
      .join("---\n");
    const tokens = [...Array(N).keys()]
      .map(
        (i) =>
          `kind: token\nversion: v2\nmetadata:\n  name: ${secret(i)}\nspec:\n  roles: [Bot]\n  join_method: token\n  bot_name: fleet-000\n`,
      )
      .join("---\n");
    writeFileSync(join(dir, "bots.yaml"), bots);
    writeFileSync(join(dir, "tokens.yaml"), tokens);
    ok(tctl(a, ["create", join(dir, "bots.yaml")]));
    ok(tctl(b, ["create", join(dir, "tokens.yaml")]));

    const botNames = (h: TauthHandle, pageSize: number) =>
      (
        JSON.parse(ok(tctl(h, ["get", "bots", "--format=json"], { pageSize }))) as {
          metadata: { name: string };
        }[]
      ).map((x) => x.metadata.name);
    const fleet = [...Array(N).keys()].map((i) => `fleet-${String(i).padStart(3, "0")}`);
    const paged = botNames(b, 7);
    expect(paged.filter((n) => n.startsWith("fleet-"))).toEqual(fleet);
    expect(paged).toEqual(botNames(a, 1000));

    const table = ok(tctl(a, ["bots", "ls"], { pageSize: 7 }))
      .trimEnd()
      .split("\n");
    expect(table.filter((l) => l.startsWith("fleet-")).length).toBe(N);
    expect(table.find((l) => l.startsWith("joiner "))).toMatch(/\s1\s+\d{4}-\d\d-\d\dT/);

    const tokenNames = (h: TauthHandle, pageSize: number) =>
      (
        JSON.parse(ok(tctl(h, ["tokens", "ls", "--format=json"], { pageSize }))) as {
          metadata: { name: string };
        }[]
      ).map((x) => x.metadata.name);
    const listed = tokenNames(a, 7);
    expect(listed).toEqual(expect.arrayContaining([...Array(N).keys()].map((i) => masked(secret(i)))));
    expect(listed).toEqual(tokenNames(b, 1000));
    expect(new Set(listed).size).toBe(listed.length);
    const text = ok(tctl(a, ["tokens", "ls"], { pageSize: 7 }));
    expect(text).not.toContain("paging-secret-");

    // The audit log of those creations pages the same way.
    const created = audit(a, ["--kind=resource.create"], 7);
    expect(created).toEqual(audit(b, ["--kind=resource.create"], 1000));
    expect(created.filter((e) => e.kind === "token").length).toBe(N);
    expect(created.filter((e) => String(e.name).startsWith("fleet-")).length).toBe(N);
    expect(JSON.stringify(created)).not.toContain("paging-secret-");
  });

  test("bot instances page too: bots instances ls and get bot_instance", () => {
    const rows = ok(tctl(b, ["bots", "instances", "ls", "joiner", "--format=json"], { pageSize: 1 }));
    const [inst] = JSON.parse(rows) as { spec: { instance_id: string } }[];
    const id = inst!.spec.instance_id;
    const got = JSON.parse(ok(tctl(a, ["get", `bot_instance/${id}`, "--format=json"], { pageSize: 1 })));
    expect(got.map((x: { spec: { bot_name: string } }) => x.spec.bot_name)).toEqual(["joiner"]);
    expect(ok(tctl(a, ["bots", "instances", "show", `joiner/${id}`]))).toContain(`Instance ID:`);
  });
});

describe("tauth admin-identity on PostgreSQL", () => {
  test("any host with the tauth config issues an identity that tctl uses through either replica", () => {
    const { dir, cfg } = replicaConfig();
    const out = join(dir, "admin.identity");
    const r = run([tauthBin, "admin-identity", "-c", cfg, "--out", out, "--ttl", "1h"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const id = /Admin identity ([0-9a-f-]{36}) written/.exec(r.stdout)![1]!;
    for (const h of [a, b]) expect(ok(tctl(h, ["status"], { identity: out }))).toContain(a.pin);
    const listed = ok(tctl(b, ["get", "admin_identities", "--format=text"], { identity: out }));
    expect(listed).toMatch(new RegExp(`^${id}\\s+tauth admin-identity\\s`, "m"));
    // Recorded in the shared log too, by the offline command.
    expect(audit(a, ["--kind=admin_identity.create"]).map((e) => e.id)).toContain(id);

    // --conn-string instead of a config file.
    const out2 = join(dir, "admin2.identity");
    const r2 = run([
      tauthBin,
      "admin-identity",
      "--data-dir",
      join(dir, "data2"),
      "--conn-string",
      url,
      "--out",
      out2,
    ]);
    expect(r2.code).toBe(0);
    expect(r2.stdout + r2.stderr).not.toContain(PASSWORD);
    expect(ok(tctl(a, ["status"], { identity: out2 }))).toContain(a.pin);
  });

  test("an empty database is one line naming it without the password, and nothing is issued", () => {
    pg.createDatabase("empty", "tauth");
    const dir = tempDir("audit-empty-");
    const out = join(dir, "x.identity");
    const emptyUrl = pg.url({ user: "tauth", password: PASSWORD, database: "empty" });
    const r = run([
      tauthBin,
      "admin-identity",
      "--data-dir",
      join(dir, "data"),
      "--conn-string",
      emptyUrl,
      "--out",
      out,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("holds no cluster yet");
    expect(r.stderr).not.toContain(PASSWORD);
    expect(r.stderr.trimEnd().split("\n").length).toBe(1);
    expect(existsSync(out)).toBe(false);
  });
});
