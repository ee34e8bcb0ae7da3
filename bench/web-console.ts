// Web console page loads at 100,000 bot instances (Part 11): a compiled tauth on SQLite, one
// real bot joined by tbot whose instance is copied 100,000 times straight into the database
// over ten bots (as bench/renewal.ts populates its fleet), a session signed in through
// `tctl web login` and its POST, then each page fetched 20 times over plain HTTPS with the
// session cookie: median and p90 of the server's answer (status 200 and the body read).
//
//   TBOT_DIST=… bun bench/web-console.ts [--instances 100000] [--runs 20]

import { Database } from "bun:sqlite";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { spawnSync } from "bun";
import { bin, ensureBuilt, ms, startCluster, summary } from "./lib.ts";

const { values } = parseArgs({
  options: { instances: { type: "string", default: "100000" }, runs: { type: "string", default: "20" } },
});
const INSTANCES = Number(values.instances);
const RUNS = Number(values.runs);
const BOTS = 10;
const SCATTER = 618_033_988_749;

ensureBuilt();
const c = await startCluster();
try {
  // The template: a real bot and instance, joined by a one-shot tbot.
  const token = JSON.parse(c.tctl(["bots", "add", "tmpl", "--roles=access", "--format=json"]))
    .token_id as string;
  const j = spawnSync([
    bin("tbot"),
    "start",
    "--data-dir",
    join(c.dir, "bot-data"),
    "--destination-dir",
    join(c.dir, "bot-out"),
    "--token",
    token,
    "--join-method",
    "token",
    "--auth-server",
    c.addr,
    "--ca-pin",
    c.pin,
    "--oneshot",
  ]);
  if (j.exitCode !== 0) throw new Error(`tbot one-shot: ${j.stderr}`);

  // Copies of it: bots fleet-0…9, instances with the template's ID's last 12 digits numbered,
  // the numbers scattered (i × ~0.618·10^12, mod 10^12: unique, as the multiplier is prime to
  // 10, and consecutive ones far apart) so that key order is not insertion order, as with real
  // random instance IDs. In insertion order, reading a bot's rows in key order would walk the
  // table file front to back, which real instances never allow.
  const t0 = performance.now();
  const db = new Database(join(c.dir, "auth", "tauth.db"));
  db.exec("PRAGMA busy_timeout = 10000");
  const seq = `(WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < ${INSTANCES - 1}) SELECT i FROM s) AS g`;
  const rename = (col: string) =>
    `replace(replace(${col}, 'tmpl', 'fleet-' || (g.i % ${BOTS})), t.inst, substr(t.inst, 1, 24) || substr('000000000000' || ((g.i * ${SCATTER}) % 1000000000000), -12, 12))`;
  db.exec(`INSERT INTO kv (key, value, revision, expires)
    SELECT replace(key, 'tmpl', 'fleet-' || i), replace(value, 'tmpl', 'fleet-' || i), revision, expires
    FROM kv, (WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < ${BOTS - 1}) SELECT i FROM s)
    WHERE key = '/bots/tmpl'`);
  db.exec(`INSERT INTO kv (key, value, revision, expires)
    SELECT ${rename("key")}, ${rename("value")}, revision, expires
    FROM kv, ${seq},
      (SELECT substr(key, length('/bot_instances/tmpl/') + 1) AS inst FROM kv
       WHERE key LIKE '/bot_instances/tmpl/%' LIMIT 1) AS t
    WHERE key LIKE '/bot_instances/tmpl/%'`);
  const n = (
    db.query("SELECT count(*) AS n FROM kv WHERE key LIKE '/bot_instances/%'").get() as { n: number }
  ).n;
  db.close();
  console.log(
    `seeded ${n} instances (${INSTANCES} copies over ${BOTS} bots) in ${ms(performance.now() - t0)}`,
  );

  // Sign in: the link from tctl web login, then its POST; the session cookie it sets.
  const ca = c.tctl(["auth", "export", "--type=tls-host"]);
  const tls = { ca, checkServerIdentity: () => undefined };
  const link = new URL(c.tctl(["web", "login"]).trim());
  const login = await fetch(`https://${c.addr}/web/login`, {
    method: "POST",
    body: new URLSearchParams({ t: link.searchParams.get("t")! }).toString(),
    headers: { "content-type": "application/x-www-form-urlencoded" },
    redirect: "manual",
    tls,
  } as RequestInit);
  const cookie = /^[^;]+/.exec(login.headers.get("set-cookie") ?? "")?.[0];
  if (login.status !== 303 && login.status !== 302) throw new Error(`sign-in: HTTP ${login.status}`);
  if (!cookie) throw new Error("sign-in set no cookie");

  const get = async (path: string): Promise<{ ms: number; body: string }> => {
    const t = performance.now();
    const r = await fetch(`https://${c.addr}${path}`, { headers: { cookie }, tls } as RequestInit);
    const body = await r.text();
    const dt = performance.now() - t;
    if (r.status !== 200) throw new Error(`${path}: HTTP ${r.status}: ${body.slice(0, 200)}`);
    return { ms: dt, body };
  };
  const nextOf = (body: string) => {
    const h = /<a href="([^"]+)" id="next">/.exec(body)?.[1];
    return h?.replaceAll("&amp;", "&");
  };

  // Instances page 50: Next followed from page 1.
  let page50 = "/web/instances";
  for (let i = 1; i < 50; i++) {
    const next = nextOf((await get(page50)).body);
    if (!next) throw new Error(`no Next on instances page ${i}`);
    page50 = next;
  }
  const anInstance = /href="(\/web\/instance\?[^"]+)"/.exec(
    (await get("/web/instances?bot=fleet-3")).body,
  )?.[1];
  if (!anInstance) throw new Error("no instance link on the instances page");
  // The bots page shows each bot's count: the seeded ones have theirs.
  const botsPage = (await get("/web/bots")).body;
  const fleetCount = />fleet-3<\/a><\/td>\s*<td>[^<]*<\/td><td class="count">(\d+)</.exec(botsPage)?.[1];
  if (fleetCount !== String(INSTANCES / BOTS))
    throw new Error(
      `the bots page shows ${fleetCount ?? "no count"} instances of fleet-3, not ${INSTANCES / BOTS}`,
    );
  const pages: [string, string][] = [
    ["bots", "/web/bots"],
    ["instances, page 1", "/web/instances"],
    ["instances, page 50 (Next ×49)", page50],
    ["instance", anInstance.replaceAll("&amp;", "&")],
    ["instances of one bot (fleet-3)", "/web/instances?bot=fleet-3"],
    ["instances, health=failing (no match: a full scan)", "/web/instances?health=failing"],
    ["audit (page and chart, last 24 h)", "/web/audit"],
    ["audit of one bot (page and chart)", "/web/audit?bot=fleet-3"],
  ];
  const times = new Map(pages.map(([name]) => [name, [] as number[]]));
  // Round-robin: each round fetches every page once.
  for (let r = 0; r < RUNS; r++)
    for (const [name, path] of pages) times.get(name)!.push((await get(path)).ms);
  const load = (await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ");
  console.log(`\n${new Date().toISOString()}, load average ${load}, ${RUNS} runs each\n`);
  console.log("| page | median | p90 |\n| --- | --- | --- |");
  for (const [name] of pages) {
    const s = summary(times.get(name)!);
    console.log(`| ${name} | ${ms(s.median)} | ${ms(s.p90)} |`);
  }
} finally {
  c.stop();
}
