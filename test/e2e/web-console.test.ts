// The web console (/web on tauth) in a real browser: Debian's chromium driven by
// playwright-core (headless, nothing downloaded), against the compiled binary. Sign-in with
// the `tctl web login` link (once only), 1,000 seeded instances paged and filtered on the
// server, an instance locked from its page and then denied at its renewal, a join token made
// on the tokens page and used with the copied `tbot start` command, the audit entries of
// those changes; requests without the session cookie or with a wrong CSRF token refused.
// Screenshots of each page go to $TBOT_TEST_ARTEFACTS/web-console (or a temp directory),
// printed in the log.
//
// Trust: the browser is not told to ignore certificate errors. The test first checks, with
// node:tls, that tauth's certificate chains to the cluster's host CA (exported by tctl), then
// pins that certificate's key in Chromium with --ignore-certificate-errors-spki-list (the one
// way to trust a key without a system trust store or an NSS database): any other key is
// still refused.

import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createHash, randomUUID } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { connect } from "node:tls";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { tbotBin } from "../harness/binary.ts";
import { addBot, fileScope } from "../harness/extra.ts";
import { instanceOf, renew, storedIdentity } from "../harness/identity-api.ts";
import { cleanupAfterFile, run } from "../harness/proc.ts";
import type { TauthHandle } from "../harness/tauth.ts";

setDefaultTimeout(120_000);
cleanupAfterFile();
const scope = fileScope();

const SEEDED = 1000;
const FLEET = ["fleet-a", "fleet-b", "fleet-c", "fleet-d"];

let auth: TauthHandle;
let work: string;
let hostCa: string;
let base: string;
let browser: Browser;
let ctx: BrowserContext;
let page: Page;
let link: string;
let botData: string;
let shots: string;
const cspErrors: string[] = [];

const shot = (name: string, p: Page = page) =>
  p.screenshot({ path: join(shots, `${name}.png`), fullPage: true });

/** tauth's certificate, verified against the cluster CA: the SHA-256 of its key, base64 (Chromium's pin format). */
function pinnedKey(): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(
      {
        host: "127.0.0.1",
        port: auth.port,
        ca: hostCa,
        servername: undefined,
        checkServerIdentity: () => undefined,
      },
      () => {
        if (!s.authorized)
          return reject(
            new Error(`tauth's certificate does not chain to the host CA: ${s.authorizationError}`),
          );
        const spki = s.getPeerX509Certificate()!.publicKey.export({ type: "spki", format: "der" });
        s.end();
        resolve(createHash("sha256").update(spki).digest("base64"));
      },
    );
    s.on("error", reject);
  });
}

/** 1,000 instances of four bots written straight into tauth's SQLite, copies of a real one (as bench/renewal.ts does). */
function seed(templateBot: string): void {
  const db = new Database(join(auth.dataDir, "tauth.db"));
  db.exec("PRAGMA busy_timeout = 10000");
  const bot = db
    .query<{ value: string; revision: string }, [string]>("SELECT value FROM kv WHERE key = ?")
    .get(`/bots/${templateBot}`)!;
  const inst = db
    .query<{ key: string; value: string }, [string]>("SELECT key, value FROM kv WHERE key LIKE ? LIMIT 1")
    .get(`/bot_instances/${templateBot}/%`)!;
  const insert = db.query("INSERT INTO kv (key, value, revision, expires) VALUES (?, ?, ?, NULL)");
  db.transaction(() => {
    for (const name of FLEET) {
      const b = JSON.parse(bot.value);
      b.metadata.name = name;
      insert.run(`/bots/${name}`, JSON.stringify(b), randomUUID());
    }
    for (let i = 0; i < SEEDED; i++) {
      const name = FLEET[i % FLEET.length]!;
      const v = JSON.parse(inst.value);
      const id = randomUUID();
      v.metadata.name = `${name}/${id}`;
      v.spec = { bot_name: name, instance_id: id };
      // Every tenth runs an old version; every twentieth has a failing output.
      v.status.latest_heartbeats = [
        {
          ...(v.status.latest_heartbeats?.at(-1) ?? {}),
          recorded_at: new Date().toISOString(),
          hostname: `host-${i}`,
          version: i % 10 === 0 ? "0.0.1-old" : "1.0.0",
          one_shot: true,
          outputs: [
            i % 20 === 0
              ? { name: "app", type: "identity", healthy: false, reason: "permission denied" }
              : {
                  name: "app",
                  type: "identity",
                  healthy: true,
                  expires: new Date(Date.now() + 3600_000).toISOString(),
                },
          ],
        },
      ];
      insert.run(`/bot_instances/${name}/${id}`, JSON.stringify(v), randomUUID());
    }
  })();
  db.close();
}

const rowsOf = async (p: Page) =>
  p.$$eval("#instances tbody tr", (trs) =>
    trs.map((tr) => ({ bot: tr.children[0]!.textContent!, id: tr.children[1]!.textContent!.trim() })),
  );

beforeAll(async () => {
  auth = await scope.tauth({ clusterName: "web.test" });
  work = scope.tempDir("web-");
  base = `https://${auth.addr}`;
  hostCa = auth.tctl(["auth", "export", "--type=tls-host"]).stdout;
  // A real bot, joined by tbot: the template of the seeded fleet and the one locked later.
  const token = addBot(auth, "web-bot");
  botData = join(work, "bot-data");
  const r = run([
    tbotBin,
    "start",
    "--data-dir",
    botData,
    "--destination-dir",
    join(work, "bot-out"),
    "--token",
    token,
    "--join-method",
    "token",
    "--auth-server",
    auth.addr,
    "--ca-pin",
    auth.pin,
    "--oneshot",
  ]);
  if (r.code !== 0) throw new Error(`tbot one-shot failed: ${r.stderr}`);
  seed("web-bot");
  // Kept after the run (test-artefacts/ is git-ignored), replaced by the next one.
  const root = process.env.TBOT_TEST_ARTEFACTS || join(import.meta.dir, "..", "..", "test-artefacts");
  shots = join(root, "web-console");
  rmSync(shots, { recursive: true, force: true });
  mkdirSync(shots, { recursive: true });
  console.log(`web console screenshots: ${shots}`);
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", `--ignore-certificate-errors-spki-list=${await pinnedKey()}`],
  });
  ctx = await browser.newContext({ ignoreHTTPSErrors: false, viewport: { width: 1280, height: 900 } });
  page = await ctx.newPage();
  // Anything the Content-Security-Policy blocks shows up here (inline style or script, a
  // resource from elsewhere): the pages must need none.
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy|Refused to/i.test(m.text()))
      cspErrors.push(m.text());
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
});

/** A POST as a non-browser client would send it, trusting exactly the cluster CA. */
function post(path: string, body: string, headers: Record<string, string> = {}) {
  return fetch(`${base}${path}`, {
    method: "POST",
    body,
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    redirect: "manual",
    tls: { ca: hostCa, checkServerIdentity: () => undefined },
  } as RequestInit);
}

describe("web console", () => {
  test("tctl web login prints one link; it signs in once and sets a strict, HttpOnly, Secure session cookie", async () => {
    const r = auth.tctl(["web", "login"]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    link = lines[0]!;
    expect(link).toMatch(
      new RegExp(`^https://127\\.0\\.0\\.1:${auth.port}/web/login\\?t=[A-Za-z0-9_-]{43}$`),
    );
    // Opening the link shows a button; only its POST uses the link up.
    const resp = await page.goto(link);
    expect(resp!.status()).toBe(200);
    await shot("sign-in");
    expect((await page.goto(link))!.status()).toBe(200);
    await page.click("#sign-in button");
    expect(new URL(page.url()).pathname).toBe("/web/bots");
    const cookies = await ctx.cookies();
    const c = cookies.find((x) => x.name === "tauth_session")!;
    expect(c).toBeDefined();
    expect(c.httpOnly).toBe(true);
    expect(c.secure).toBe(true);
    expect(c.sameSite).toBe("Strict");
    expect(c.path).toBe("/web");
    // Bots with their roles and instance counts.
    const counts = await page.$$eval("tbody tr", (trs) =>
      Object.fromEntries(
        trs.map((tr) => [tr.children[0]!.textContent, tr.querySelector(".count")!.textContent]),
      ),
    );
    expect(counts).toEqual({
      "fleet-a": "250",
      "fleet-b": "250",
      "fleet-c": "250",
      "fleet-d": "250",
      "web-bot": "1",
    });
    await shot("bots");
    // The same link again, in a browser context of its own: refused.
    const other = await browser.newContext();
    const p2 = await other.newPage();
    const again = await p2.goto(link);
    expect(again!.status()).toBe(403);
    expect(await p2.textContent("main")).toContain("already used");
    expect((await other.cookies()).find((x) => x.name === "tauth_session")).toBeUndefined();
    await shot("login-link-used", p2);
    // Without a session, pages are refused too.
    expect((await p2.goto(`${base}/web/instances`))!.status()).toBe(401);
    await other.close();
    const log = auth.auditLog();
    expect(log.some((e) => e.event === "web.login" && String(e.by).startsWith("web:admin:"))).toBe(true);
  });

  test("1,000 instances are paged 50 at a time and filtered by bot on the server", async () => {
    await page.goto(`${base}/web/instances`);
    await shot("instances");
    const seen = new Set<string>();
    let pages = 0;
    let firstPage: string[] = [];
    for (;;) {
      const rows = await rowsOf(page);
      expect(rows.length).toBeLessThanOrEqual(50);
      if (pages === 0) firstPage = rows.map((r) => r.id);
      for (const r of rows) seen.add(r.id);
      pages++;
      if (pages === 2) {
        // Previous goes back to the first page.
        const second = rows.map((r) => r.id);
        await page.click("#prev");
        expect((await rowsOf(page)).map((r) => r.id)).toEqual(firstPage);
        await page.goBack();
        expect((await rowsOf(page)).map((r) => r.id)).toEqual(second);
      }
      if (!(await page.$("#next"))) break;
      await page.click("#next");
    }
    expect(seen.size).toBe(SEEDED + 1);
    expect(pages).toBe(21);
    // Filtered by bot: the bot's key range only, 250 rows over 5 pages.
    await page.goto(`${base}/web/instances`);
    await page.fill("input[name=bot]", "fleet-b");
    await page.click("form.filter button");
    expect(new URL(page.url()).searchParams.get("bot")).toBe("fleet-b");
    await shot("instances-fleet-b");
    let n = 0;
    for (;;) {
      const rows = await rowsOf(page);
      expect(rows.every((r) => r.bot === "fleet-b")).toBe(true);
      n += rows.length;
      if (!(await page.$("#next"))) break;
      await page.click("#next");
    }
    expect(n).toBe(250);
  });

  test("filters on fields outside the key (health, version) are applied on the server, a bounded read per page", async () => {
    const collect = async (query: string) => {
      await page.goto(`${base}/web/instances?${query}`);
      const all: { bot: string; id: string }[] = [];
      const cells: string[] = [];
      for (;;) {
        all.push(...(await rowsOf(page)));
        cells.push(
          ...(await page.$$eval("#instances tbody tr", (trs) =>
            trs.map((tr) => `${tr.children[6]!.textContent}|${tr.children[8]!.textContent}`),
          )),
        );
        if (!(await page.$("#next"))) break;
        await page.click("#next");
      }
      return { all, cells };
    };
    const old = await collect("version=0.0.1-old");
    expect(old.all).toHaveLength(100);
    expect(old.cells.every((c) => c.startsWith("0.0.1-old|"))).toBe(true);
    await page.goto(`${base}/web/instances?health=failing&bot=fleet-a`);
    await shot("instances-failing");
    const failing = await collect("health=failing");
    expect(failing.all).toHaveLength(50);
    expect(failing.cells.every((c) => c.endsWith("|1 failing"))).toBe(true);
    const failingA = await collect("health=failing&bot=fleet-a");
    expect(failingA.all.every((r) => r.bot === "fleet-a")).toBe(true);
    expect(failingA.all).toHaveLength(50);
    // One instance's page: its outputs with their health.
    await page.goto(`${base}/web/instances?health=failing&bot=fleet-a`);
    await page.click("#instances tbody tr a");
    expect(await page.textContent("#outputs")).toContain("failing: permission denied");
    await shot("instance-failing");
  });

  test("an instance locked from its page is denied at its next renewal", async () => {
    const id = storedIdentity(botData);
    expect((await renew(auth, id)).ok).toBe(true);
    const iid = instanceOf(id);
    await page.goto(`${base}/web/instances?bot=web-bot`);
    await page.click(`a:text("${iid}")`);
    expect(await page.textContent("h1")).toContain(iid);
    expect(await page.$$eval("h2", (h) => h.map((x) => x.textContent))).toEqual([
      "Outputs",
      "Heartbeats",
      "Authentications",
      "Recent audit events",
    ]);
    await shot("instance");
    await page.click("#lock-instance button");
    expect(new URL(page.url()).pathname).toBe("/web/instance");
    expect(await page.textContent("main")).toContain("locked");
    // Its recent audit events: the join and the renewal made above.
    const recent = await page.$$eval("table.audit tbody tr", (trs) =>
      trs.map((t) => t.children[1]!.textContent),
    );
    expect(recent).toContain("bot.join");
    expect(recent).toContain("cert.renew");
    await shot("instance-locked");
    const denied = await renew(auth, id);
    expect(denied.ok).toBe(false);
    if (!denied.ok) expect(denied.message).toContain("locked");
    await page.goto(`${base}/web/locks`);
    expect(await page.textContent("tbody")).toContain(`instance ${iid}`);
    await shot("locks");
    // Unlocked from the locks page: the instance renews again.
    await page.click('#locks tbody tr button:text("Unlock")');
    expect(await page.$$("#locks tbody tr")).toHaveLength(0);
    expect((await renew(auth, id)).ok).toBe(true);
    const log = auth.auditLog();
    expect(log.some((e) => e.event === "lock.delete" && String(e.by).startsWith("web:admin:"))).toBe(true);
  });

  test("a whole bot is locked from the bots page and unlocked from the locks page", async () => {
    await page.goto(`${base}/web/bots`);
    await page.click('tr:has(a:text-is("fleet-d")) form.lock-bot button');
    expect(new URL(page.url()).pathname).toBe("/web/bots");
    expect(await page.textContent('tr:has(a:text-is("fleet-d")) td:nth-child(4)')).toBe("locked");
    await shot("bots-locked");
    await page.goto(`${base}/web/locks`);
    expect(await page.textContent("#locks tbody")).toContain("bot fleet-d");
    await page.click('#locks tr:has(td:text-is("bot fleet-d")) button:text("Unlock")');
    expect(await page.$$("#locks tbody tr")).toHaveLength(0);
    await page.goto(`${base}/web/bots`);
    expect(await page.$('tr:has(a:text-is("fleet-d")) form.lock-bot button')).not.toBeNull();
  });

  test("requests without the session cookie, with a wrong CSRF token or from another origin are refused", async () => {
    const cookie = (await ctx.cookies()).find((x) => x.name === "tauth_session")!;
    const csrf = await page.getAttribute("input[name=csrf]", "value");
    expect(csrf).toBeTruthy();
    const noCookie = await post("/web/locks/create", `bot=fleet-a&csrf=${csrf}`);
    expect(noCookie.status).toBe(401);
    const wrong = await post("/web/locks/create", "bot=fleet-a&csrf=not-the-token", {
      cookie: `tauth_session=${cookie.value}`,
    });
    expect(wrong.status).toBe(403);
    const missing = await post("/web/locks/create", "bot=fleet-a", {
      cookie: `tauth_session=${cookie.value}`,
    });
    expect(missing.status).toBe(403);
    const crossSite = await post("/web/locks/create", `bot=fleet-a&csrf=${csrf}`, {
      cookie: `tauth_session=${cookie.value}`,
      origin: "https://evil.example",
      "sec-fetch-site": "cross-site",
    });
    expect(crossSite.status).toBe(403);
    const forged = await post("/web/locks/create", `bot=fleet-a&csrf=${csrf}`, {
      cookie: "tauth_session=forged-session-id",
    });
    expect(forged.status).toBe(401);
    // A sign-in POSTed from another site is refused and leaves the link unused.
    const link2 = auth.tctl(["web", "login"]).stdout.trim();
    const t = new URL(link2).searchParams.get("t")!;
    const foreign = await post("/web/login", `t=${t}`, {
      origin: "https://evil.example",
      "sec-fetch-site": "cross-site",
    });
    expect(foreign.status).toBe(403);
    const ok = await post("/web/login", `t=${t}`);
    expect(ok.status).toBe(303);
    expect(ok.headers.get("set-cookie")).toContain("tauth_session=");
    expect((await post("/web/login", `t=${t}`)).status).toBe(403);
    // None of them locked anything.
    expect(auth.tctl(["get", "locks", "--format=json"]).stdout).not.toContain("fleet-a");
  });

  test("a join token made on the tokens page joins a bot with the copied tbot start command", async () => {
    await page.goto(`${base}/web/bots`);
    await page.click('a[href="/web/tokens?bot=web-bot"]');
    await page.click("#create-token button");
    // Copied with the page's button, read back from the clipboard: what an administrator pastes.
    await ctx.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
    await page.click('button:text("Copy command")');
    await page.waitForSelector('button:text("Copied")');
    // A string: this project's TypeScript has no DOM types.
    const cmd = String(await page.evaluate("navigator.clipboard.readText()"));
    expect(cmd).toBe((await page.textContent("#tbot-command"))!);
    await shot("token-created");
    expect(cmd).toContain("--join-method=token");
    expect(cmd).toContain(`--auth-server=${auth.addr}`);
    expect(cmd).toContain(`--ca-pin=${auth.pin}`);
    const args = cmd
      .replace(/\\\n/g, " ")
      .split(/\s+/)
      .filter(Boolean)
      .map((a: string) =>
        a.replace("./tbot-user", join(work, "new-out")).replace("./tbot-data", join(work, "new-data")),
      );
    expect(args.slice(0, 2)).toEqual(["tbot", "start"]);
    const r = run([tbotBin, ...args.slice(1), "--oneshot"]);
    expect(r.stderr).toContain("Fetched new bot identity");
    expect(r.code).toBe(0);
    await page.goto(`${base}/web/instances?bot=web-bot`);
    expect((await rowsOf(page)).length).toBe(2);
    // A token is listed (masked) and deleted from the page.
    const first = await page.goto(`${base}/web/tokens`);
    expect(first!.status()).toBe(200);
    await page.click("#create-token input[name=bot]");
    await page.fill("#create-token input[name=bot]", "fleet-c");
    await page.click("#create-token button");
    await page.goto(`${base}/web/tokens`);
    expect(await page.textContent("tbody")).toContain("fleet-c");
    await shot("tokens");
    await page.click('tr:has(td:text-is("fleet-c")) button:text("Delete")');
    expect(await page.textContent("tbody")).not.toContain("fleet-c");
  });

  test("the audit page shows the console's changes with their actor, filtered, and the chart counts them", async () => {
    await page.goto(`${base}/web/audit?kind=lock.create`);
    const rows = await page.$$eval("table.audit tbody tr", (trs) => trs.map((t) => t.textContent ?? ""));
    expect(rows).toHaveLength(2);
    expect(rows[0]).toContain("web:admin:");
    await shot("audit-locks");
    // A duration back from now, as tctl audit ls takes it.
    await page.goto(`${base}/web/audit?kind=lock.create&since=1h`);
    expect(await page.$$("table.audit tbody tr")).toHaveLength(2);
    await page.goto(`${base}/web/audit?kind=join_token.create&bot=web-bot`);
    const tok = await page.$$eval("table.audit tbody tr", (trs) => trs.map((t) => t.textContent ?? ""));
    expect(tok.some((t) => t.includes("web:admin:"))).toBe(true);
    await page.goto(`${base}/web/audit`);
    const totals = (await page.textContent("#chart-totals"))!;
    expect(totals).toMatch(/joins 2 · renewals 2 · denials \d+/);
    await shot("audit");
  });

  test("no page needed anything the Content-Security-Policy refuses", () => {
    expect(cspErrors).toEqual([]);
  });

  test("signing out ends the session", async () => {
    await page.goto(`${base}/web/bots`);
    await page.click("header form button");
    expect(await page.textContent("main")).toContain("signed out");
    expect((await page.goto(`${base}/web/bots`))!.status()).toBe(401);
  });
});
