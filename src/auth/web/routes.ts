// The web console: server-rendered pages under /web on tauth's HTTPS listener. Every page
// reads one page of its kind through the admin operations (never a whole prefix); every
// change is a POST of an HTML form that must carry the session cookie, come from this origin
// (Origin / Sec-Fetch-Site) and carry the session's CSRF token (checked in constant time).
// Changes are audited with the actor "web:admin:<ID>".

import { instanceHealth } from "../../cli/tctl-bots-format.ts";
import { parseDuration } from "../../util/duration.ts";
import { badParameter, UserError } from "../../util/errors.ts";
import { auditPage } from "../api/admin-audit.ts";
import { getResources } from "../api/admin-list.ts";
import { deleteResource } from "../api/admin-resources.ts";
import { addBotToken } from "../api/admin-tokens.ts";
import type { AuditEntry } from "../audit-query.ts";
import type { RequestContext, Route } from "../http/router.ts";
import { RawResponse } from "../http/server.ts";
import { createLock, lockTarget } from "../locks.ts";
import type { BotResource } from "../resources/index.ts";
import type { AuthService } from "../service.ts";
import type { BotInstance, Heartbeat, Lock } from "../store/types.ts";
import { CONSOLE_CSS, CONSOLE_JS } from "./assets.ts";
import { auditChart } from "./chart.ts";
import { Html, html, query } from "./html.ts";
import {
  clearedCookie,
  cookieValue,
  csrfMatches,
  endSession,
  loginLinkUsable,
  redeemLoginLink,
  SESSION_COOKIE,
  sessionCookie,
  sessionOf,
  type WebSession,
} from "./sessions.ts";

/** Rows per page on every listing. */
export const WEB_PAGE = 50;
/** How many earlier cursors a listing's "Previous" link keeps (the backend pages forwards only). */
const MAX_BACK = 40;

const SECURITY_HEADERS = {
  "cache-control": "no-store",
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "same-origin",
};

function htmlResponse(body: Html, status = 200, extra: Record<string, string | string[]> = {}): RawResponse {
  return new RawResponse(
    `<!doctype html>\n${body.text}`,
    { "content-type": "text/html; charset=utf-8", ...SECURITY_HEADERS, ...extra },
    status,
  );
}

export interface InstanceFilter {
  bot?: string;
  /** healthy, failing, stale or unknown (as `tctl bots instances ls` shows it). */
  health?: string;
  /** The latest heartbeat's version, exactly. */
  version?: string;
  /** The join method of the instance's first join. */
  join_method?: string;
}

/** Instances read per request at most when filtering on fields that are not in the key. */
export const MAX_SCAN = 5000;

/**
 * One page of instances: a bot is a key range (one page read); health, version and join
 * method are not in the key, so the range is read on a page at a time until WEB_PAGE match or
 * MAX_SCAN are read, and `next` continues after the last instance read (a page may then hold
 * fewer rows: only `next` says whether there is more). Never the whole prefix per request.
 */
export async function instancePage(
  svc: AuthService,
  f: InstanceFilter,
  after: string | undefined,
  now: number,
): Promise<{ items: BotInstance[]; next?: string; scanned?: number }> {
  const sub = f.bot ? { subPrefix: `${f.bot}/` } : {};
  if (!f.health && !f.version && !f.join_method) {
    const page = await svc.instances.listPage({ limit: WEB_PAGE, startAfter: after, ...sub });
    return { items: page.items.map((x) => x.value), next: page.next };
  }
  const keep = (i: BotInstance) => {
    if (f.health) {
      const h = instanceHealth(i, now);
      if (f.health === "failing" ? !h.endsWith(" failing") : h !== f.health) return false;
    }
    const beats = i.status.latest_heartbeats ?? [];
    if (f.version && beats[beats.length - 1]?.version !== f.version) return false;
    if (f.join_method && i.status.initial_authentication?.join_method !== f.join_method) return false;
    return true;
  };
  const items: BotInstance[] = [];
  let scanned = 0;
  let cursor = after;
  /** Where the next page starts once this one is full: after its last row. */
  let full: string | undefined;
  for (;;) {
    const page = await svc.instances.listPage({ limit: 500, startAfter: cursor, ...sub });
    for (const it of page.items) {
      scanned++;
      cursor = `${it.value.spec.bot_name}/${it.value.spec.instance_id}`;
      if (keep(it.value)) {
        // One more match after a full page: there is a next page (no empty last page).
        if (full !== undefined) return { items, next: full, scanned };
        items.push(it.value);
        if (items.length === WEB_PAGE) full = cursor;
      }
      if (scanned >= MAX_SCAN) {
        const more = it !== page.items[page.items.length - 1] || page.next !== undefined;
        return more ? { items, next: full ?? cursor, scanned } : { items, scanned };
      }
    }
    if (page.next === undefined) return { items, scanned };
    cursor = page.next;
  }
}

const redirect = (to: string, extra: Record<string, string | string[]> = {}) =>
  new RawResponse("", { location: to, ...SECURITY_HEADERS, ...extra }, 303);

interface PageCtx {
  ctx: RequestContext;
  session: WebSession;
  /** The audit actor: "web:admin:<ID>". */
  who: string;
}

const NAV = [
  ["/web/bots", "Bots"],
  ["/web/instances", "Instances"],
  ["/web/tokens", "Join tokens"],
  ["/web/locks", "Locks"],
  ["/web/audit", "Audit log"],
] as const;

function layout(p: PageCtx | null, title: string, current: string, body: Html): Html {
  const nav = p
    ? html`${NAV.map(([href, label]) => html`<a href="${href}" class="${href === current ? "current" : ""}">${label}</a>`)}
<span class="who">${p.who}</span>
<form class="inline" method="post" action="/web/logout"><input type="hidden" name="csrf" value="${p.session.csrf}"><button>Sign out</button></form>`
    : html``;
  return html`<html lang="en"><head><meta charset="utf-8"><title>${title} · tauth</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/web/static/console.css"><script src="/web/static/console.js" defer></script></head>
<body><header><strong>tauth</strong>${nav}</header><main><h1>${title}</h1>
${body}</main></body></html>`;
}

const csrfField = (p: PageCtx) => html`<input type="hidden" name="csrf" value="${p.session.csrf}">`;

function signInPage(status: number, message: string, extra: Record<string, string> = {}): RawResponse {
  return htmlResponse(
    layout(
      null,
      "Sign in",
      "",
      html`<p class="bad">${message}</p><p>Run <code>tctl web login</code> with an admin identity and open the link it prints (valid once, for 5 minutes).</p>`,
    ),
    status,
    extra,
  );
}

async function sessionFor(svc: AuthService, ctx: RequestContext) {
  const id = cookieValue(ctx.headers?.cookie, SESSION_COOKIE);
  const session = await sessionOf(svc, id);
  return session && id ? { id, session } : null;
}

const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

/**
 * A change must come from a page of this console: when the browser says where the request
 * comes from (every current browser does on a POST), it must be this origin. Why not, or null.
 */
function crossOrigin(ctx: RequestContext): string | null {
  const site = first(ctx.headers?.["sec-fetch-site"]);
  if (site !== undefined && site !== "same-origin") return `Sec-Fetch-Site is ${site}`;
  const origin = first(ctx.headers?.origin);
  const self = `https://${ctx.host ?? ""}`;
  if (origin !== undefined && origin !== self) return `Origin ${origin} is not ${self}`;
  return null;
}

export function webRoutes(svc: AuthService): Route[] {
  const page = (path: string, render: (p: PageCtx) => Promise<Html | RawResponse>): Route => ({
    method: "GET",
    path,
    access: "public",
    raw: true,
    handle: async (ctx) => {
      const s = await sessionFor(svc, ctx);
      if (!s) return signInPage(401, "You are not signed in, or your session has ended.");
      const p = { ctx, session: s.session, who: `web:${s.session.admin}` };
      try {
        const out = await render(p);
        return out instanceof Html ? htmlResponse(out) : out;
      } catch (e) {
        if (!(e instanceof UserError)) throw e;
        return htmlResponse(layout(p, "Error", "", html`<p class="bad">${e.message}</p>`), e.httpStatus);
      }
    },
  });
  const action = (
    path: string,
    run: (form: URLSearchParams, p: PageCtx) => Promise<string | Html | RawResponse>,
  ): Route => ({
    method: "POST",
    path,
    access: "public",
    raw: true,
    rawBody: true,
    maxBody: 16 << 10,
    handle: async (ctx) => {
      const s = await sessionFor(svc, ctx);
      if (!s) return signInPage(401, "You are not signed in, or your session has ended.");
      const p = { ctx, session: s.session, who: `web:${s.session.admin}` };
      const refuse = (why: string) =>
        htmlResponse(layout(p, "Refused", "", html`<p class="bad">${why}</p>`), 403);
      const cross = crossOrigin(ctx);
      if (cross) return refuse(`This change was not sent from a page of this console (${cross}).`);
      const form = new URLSearchParams((ctx.body as Buffer).toString("utf8"));
      if (!csrfMatches(s.session, form.get("csrf")))
        return refuse("The form's CSRF token is missing or wrong; reload the page and try again.");
      try {
        const out = await run(form, p);
        if (out instanceof RawResponse) return out;
        return typeof out === "string" ? redirect(out) : htmlResponse(out);
      } catch (e) {
        if (!(e instanceof UserError)) throw e;
        return htmlResponse(layout(p, "Error", "", html`<p class="bad">${e.message}</p>`), e.httpStatus);
      } finally {
        await svc.audit.flush?.();
      }
    },
  });
  const asset = (path: string, type: string, text: string): Route => ({
    method: "GET",
    path,
    access: "public",
    raw: true,
    handle: async () =>
      new RawResponse(text, {
        "content-type": type,
        "cache-control": "no-cache",
        "x-content-type-options": "nosniff",
      }),
  });
  const pick = (ctx: RequestContext, k: string) => ctx.query.get(k)?.trim() || undefined;

  return [
    asset("/web/static/console.css", "text/css; charset=utf-8", CONSOLE_CSS),
    asset("/web/static/console.js", "text/javascript; charset=utf-8", CONSOLE_JS),
    {
      method: "GET",
      path: "/web",
      access: "public",
      raw: true,
      handle: async () => redirect("/web/bots"),
    },
    {
      // Opening the link does not use it up (link previews, scanners): it shows a button that
      // POSTs it. An unknown, used or expired link is refused here already.
      method: "GET",
      path: "/web/login",
      access: "public",
      raw: true,
      rateLimitUnauthenticated: true,
      handle: async (ctx) => {
        const t = ctx.query.get("t") ?? "";
        if (!(await loginLinkUsable(svc, t)))
          return signInPage(403, "This sign-in link is invalid, expired or already used.");
        return htmlResponse(
          layout(
            null,
            "Sign in",
            "",
            html`<form method="post" action="/web/login" id="sign-in"><input type="hidden" name="t" value="${t}">
<p>Sign in to the cluster's console with this one-time link?</p><button>Sign in</button></form>`,
          ),
        );
      },
    },
    {
      method: "POST",
      path: "/web/login",
      access: "public",
      raw: true,
      rawBody: true,
      maxBody: 1 << 10,
      // Unauthenticated: the same per-address limit as joins (the secret is 256 bits anyway).
      rateLimitUnauthenticated: true,
      handle: async (ctx) => {
        const cross = crossOrigin(ctx);
        if (cross) return signInPage(403, `This sign-in was not sent from this console (${cross}).`);
        const t = new URLSearchParams((ctx.body as Buffer).toString("utf8")).get("t") ?? "";
        const r = await redeemLoginLink(svc, t, ctx.remoteAddr);
        await svc.audit.flush?.();
        if (!r) return signInPage(403, "This sign-in link is invalid, expired or already used.");
        // Off the URL with the secret at once (history, screenshots), into the session.
        return redirect("/web/bots", { "set-cookie": sessionCookie(r.id) });
      },
    },
    action("/web/logout", async (_f, p) => {
      const id = cookieValue(p.ctx.headers?.cookie, SESSION_COOKIE);
      if (id) await endSession(svc, id);
      return signInPage(200, "You have signed out.", { "set-cookie": clearedCookie });
    }),
    page("/web/bots", async (p) => {
      const after = pick(p.ctx, "after");
      const r = await getResources(svc, { kind: "bot", limit: WEB_PAGE, start_after: after });
      const bots = r.resources as BotResource[];
      const counts = await Promise.all(
        bots.map(
          (b) => svc.backend.count?.(`/bot_instances/${b.metadata.name}/`) ?? Promise.resolve(undefined),
        ),
      );
      const rows = bots.map(
        (
          b,
          i,
        ) => html`<tr><td><a href="/web/instances${query({ bot: b.metadata.name })}">${b.metadata.name}</a></td>
<td>${(b.spec.roles ?? []).join(", ")}</td><td class="count">${counts[i] ?? "?"}</td>
<td>${lockCell(p, svc.lockIndex.find({ bot: b.metadata.name }), b.metadata.name, `/web/bots${query({ after })}`)}</td>
<td><a href="/web/tokens${query({ bot: b.metadata.name })}">New join token</a></td></tr>`,
      );
      return layout(
        p,
        "Bots",
        "/web/bots",
        html`<table><thead><tr><th>Bot</th><th>Roles</th><th>Instances</th><th>Lock</th><th></th></tr></thead>
<tbody>${rows}</tbody></table>${pager("/web/bots", {}, p.ctx, r.next)}`,
      );
    }),
    page("/web/instances", async (p) => {
      const f: InstanceFilter = {
        bot: pick(p.ctx, "bot"),
        health: pick(p.ctx, "health"),
        version: pick(p.ctx, "version"),
        join_method: pick(p.ctx, "join_method"),
      };
      const now = svc.clock.now();
      const r = await instancePage(svc, f, pick(p.ctx, "after"), now);
      const rows = r.items.map((i) => instanceRow(svc, i, now));
      const opt = (v: string, cur: string | undefined) =>
        html`<option value="${v}" ${v === (cur ?? "") ? html`selected` : html``}>${v || "any"}</option>`;
      return layout(
        p,
        "Bot instances",
        "/web/instances",
        html`<form class="filter" method="get" action="/web/instances">
<label>Bot <input name="bot" value="${f.bot ?? ""}" placeholder="all bots"></label>
<label>Health <select name="health">${["", "healthy", "failing", "stale", "unknown"].map((v) => opt(v, f.health))}</select></label>
<label>Version <input name="version" value="${f.version ?? ""}" size="10"></label>
<label>Join method <input name="join_method" value="${f.join_method ?? ""}" size="10"></label><button>Filter</button></form>
${
  r.scanned !== undefined
    ? html`<p class="note" id="scan-note">Filtered on the server: ${r.scanned} instances read for this page${r.next !== undefined ? "; Next reads on" : ""}.</p>`
    : html``
}
<table id="instances"><thead><tr><th>Bot</th><th>Instance</th><th>Joined</th><th>Join method</th><th>Generation</th>
<th>Last heartbeat</th><th>Version</th><th>Host</th><th>Health</th><th>Lock</th></tr></thead><tbody>${rows}</tbody></table>
${pager("/web/instances", { ...f }, p.ctx, r.next)}`,
      );
    }),
    page("/web/instance", async (p) => {
      const id = pick(p.ctx, "id") ?? "";
      if (!id.includes("/")) throw badParameter("expected ?id=BOT/INSTANCE-ID");
      const inst = (await svc.instances.get(id))?.value;
      if (!inst) return htmlResponse(layout(p, "Not found", "", html`<p>No bot instance ${id}.</p>`), 404);
      const { bot_name: bot, instance_id: iid } = inst.spec;
      const lock = svc.lockIndex.find({ bot, instance: iid });
      const beats = [...(inst.status.latest_heartbeats ?? [])].reverse();
      const auths = [...(inst.status.latest_authentications ?? [])].reverse();
      const mine = await recentInstanceEvents(svc, bot, iid, 20);
      return layout(
        p,
        `Instance ${iid}`,
        "/web/instances",
        html`<p>Bot <a href="/web/instances${query({ bot })}">${bot}</a> · generation ${inst.status.generation ?? "?"} ·
joined ${inst.status.initial_authentication?.authenticated_at ?? "?"} by ${inst.status.initial_authentication?.join_method ?? "?"}
· health: <span id="health">${instanceHealth(inst, svc.clock.now())}</span> · lock: ${lockBadge(lock)}</p>
${
  lock
    ? html``
    : html`<form method="post" action="/web/locks/create" class="inline" id="lock-instance">${csrfField(p)}
<input type="hidden" name="instance" value="${iid}"><input type="hidden" name="return" value="/web/instance${query({ id })}">
<input name="message" value="locked from the web console" size="30">
<button class="danger">Lock this instance</button></form>
<form method="post" action="/web/locks/create" class="inline" id="lock-bot">${csrfField(p)}
<input type="hidden" name="bot" value="${bot}"><input type="hidden" name="return" value="/web/instance${query({ id })}">
<button class="danger">Lock the whole bot</button></form>`
}
<h2>Outputs</h2>${outputsTable(beats[0])}
<h2>Heartbeats</h2><table><thead><tr><th>Recorded</th><th>Host</th><th>Version</th><th>OS/arch</th><th>Uptime (s)</th><th>Kind</th></tr></thead>
<tbody>${beats.map(
          (b) =>
            html`<tr><td>${b.recorded_at}</td><td>${b.hostname}</td><td>${b.version}</td><td>${b.os}/${b.architecture}</td>
<td>${b.uptime_seconds}</td><td>${b.is_startup ? "startup" : ""}${b.one_shot ? " one-shot" : ""}</td></tr>`,
        )}</tbody></table>
<h2>Authentications</h2><table><thead><tr><th>At</th><th>Method</th><th>Generation</th><th>From</th></tr></thead>
<tbody>${auths.map(
          (a) =>
            html`<tr><td>${a.authenticated_at}</td><td>${a.join_method}</td><td>${a.generation}</td><td>${a.remote_addr ?? ""}</td></tr>`,
        )}</tbody></table>
<h2>Recent audit events</h2>${auditTable(mine)}`,
      );
    }),
    page("/web/locks", async (p) => {
      const r = await getResources(svc, { kind: "lock", limit: WEB_PAGE, start_after: pick(p.ctx, "after") });
      const rows = (r.resources as Lock[]).map(
        (
          l,
        ) => html`<tr><td class="mono">${l.metadata.name}</td><td>${targetText(l)}</td><td>${l.spec.message}</td>
<td>${l.spec.created_by ?? ""}</td><td>${l.spec.created_at ?? ""}</td>
<td><form method="post" action="/web/locks/delete" class="inline">${csrfField(p)}<input type="hidden" name="name" value="${l.metadata.name}"><button>Unlock</button></form></td></tr>`,
      );
      return layout(
        p,
        "Locks",
        "/web/locks",
        html`<table id="locks"><thead><tr><th>Lock</th><th>Target</th><th>Message</th><th>By</th><th>At</th><th></th></tr></thead>
<tbody>${rows}</tbody></table>${pager("/web/locks", {}, p.ctx, r.next)}`,
      );
    }),
    action("/web/locks/create", async (f, p) => {
      const target = await lockTarget(
        svc,
        f.get("bot") || undefined,
        f.get("instance") || undefined,
        undefined,
      );
      await createLock(svc, target, f.get("message") || "locked from the web console", p.who);
      return localPath(f.get("return")) ?? "/web/locks";
    }),
    action("/web/locks/delete", async (f, p) => {
      await deleteResource(svc, "lock", f.get("name") ?? "", p.who);
      return "/web/locks";
    }),
    page("/web/tokens", async (p) => tokensPage(svc, p, pick(p.ctx, "after"))),
    action("/web/tokens/create", async (f, p) => {
      const bot = f.get("bot") ?? "";
      if (!(await svc.bots.get(bot))) throw new UserError(`bot "${bot}" not found`, "not_found");
      const t = await addBotToken(svc, bot, f.get("ttl") || undefined, p.who);
      const cmd = [
        "tbot start",
        "--destination-dir=./tbot-user",
        "--data-dir=./tbot-data",
        `--token=${t.token_name}`,
        "--join-method=token",
        `--auth-server=${p.ctx.host ?? ""}`,
        `--ca-pin=${svc.authorities.caPins()[0] ?? ""}`,
      ].join(" \\\n   ");
      // Shown once, in this answer (never in a URL): the token's name is its secret.
      return tokensPage(
        svc,
        p,
        undefined,
        html`<section id="new-token"><p class="ok">Join token for bot <strong>${bot}</strong> created; it expires in ${t.token_ttl}
(${t.expires}) and works once. Run this on the new bot's host:</p>
<pre class="cmd" id="tbot-command">${cmd}</pre><button type="button" data-copy="tbot-command">Copy command</button></section>`,
      );
    }),
    action("/web/tokens/delete", async (f, p) => {
      await deleteResource(svc, "token", f.get("name") ?? "", p.who);
      return "/web/tokens";
    }),
    page("/web/audit", async (p) => {
      const since = timeParam(pick(p.ctx, "since"), "since");
      const until = timeParam(pick(p.ctx, "until"), "until");
      const bot = pick(p.ctx, "bot");
      const kind = pick(p.ctx, "kind");
      const filter = { since, until, bot, kind };
      const r = await auditPage(svc, {
        since,
        until,
        bot,
        kinds: kind ? kind.split(",").map((k) => k.trim()) : undefined,
        limit: WEB_PAGE,
        start_after: pick(p.ctx, "after"),
      });
      const chart = await auditChart(svc, since, until, bot);
      return layout(
        p,
        "Audit log",
        "/web/audit",
        html`<form class="filter" method="get" action="/web/audit">
<label>Since (2h or RFC 3339) <input name="since" value="${since ?? ""}" placeholder="24h"></label>
<label>Until <input name="until" value="${until ?? ""}"></label>
<label>Bot <input name="bot" value="${bot ?? ""}"></label>
<label>Kind <input name="kind" value="${kind ?? ""}" placeholder="bot.join,lock.create"></label><button>Filter</button></form>
${chart}
${auditTable(r.events)}${pager("/web/audit", filter, p.ctx, r.next)}`,
      );
    }),
  ];
}

/** Where a form may send the browser back to: a path of this console only. */
function localPath(p: string | null): string | undefined {
  return p && /^\/web\/[A-Za-z0-9/_?=&%.-]*$/.test(p) && !p.startsWith("//") ? p : undefined;
}

/** An audit time filter: RFC 3339, or a duration back from now ("2h", as tctl audit ls takes). */
function timeParam(v: string | undefined, what: string): string | undefined {
  if (!v) return undefined;
  const back = parseDuration(v);
  if (typeof back === "number") return new Date(Date.now() - back).toISOString();
  const t = Date.parse(v);
  if (Number.isNaN(t))
    throw badParameter(
      `${what}: expected a duration such as 2h or a time such as 2026-01-01T00:00:00Z, got "${v}"`,
    );
  return new Date(t).toISOString();
}

/**
 * The newest events about one instance in the last day: the bot's events are read oldest
 * first, a page at a time, at most 5,000 of them, keeping the last `n` about the instance.
 */
async function recentInstanceEvents(svc: AuthService, bot: string, iid: string, n: number) {
  const kept: AuditEntry[] = [];
  let startAfter: string | undefined;
  let read = 0;
  const since = new Date(Date.now() - 86400_000).toISOString();
  const about = (e: AuditEntry) =>
    e.bot_instance_id === iid ||
    e.instance_id === iid ||
    (e.target as { bot_instance_id?: string } | undefined)?.bot_instance_id === iid;
  do {
    const page = await auditPage(svc, { bot, since, limit: 1000, start_after: startAfter });
    for (const e of page.events)
      if (about(e)) {
        kept.push(e);
        if (kept.length > n) kept.shift();
      }
    read += page.events.length;
    startAfter = page.next;
  } while (startAfter !== undefined && read < 5000);
  return kept;
}

function lockBadge(lock: Lock | null): Html {
  return lock
    ? html`<span class="bad" title="${lock.spec.message}">locked</span>`
    : html`<span class="ok">—</span>`;
}

/** A bot's lock: a link to it on the locks page (to lift it), or a button that locks the bot. */
function lockCell(p: PageCtx, lock: Lock | null, bot: string, back: string): Html {
  if (lock) return html`<a href="/web/locks" class="bad" title="${lock.spec.message}">locked</a>`;
  return html`<form method="post" action="/web/locks/create" class="inline lock-bot">${csrfField(p)}
<input type="hidden" name="bot" value="${bot}"><input type="hidden" name="return" value="${back}"><button>Lock</button></form>`;
}

function targetText(l: Lock): string {
  const t = l.spec.target;
  if (t.bot_instance_id) return `instance ${t.bot_instance_id}`;
  if (t.bot) return `bot ${t.bot}`;
  if (t.admin_identity) return `admin identity ${t.admin_identity}`;
  if (t.join_token) return "join token";
  return "?";
}

function instanceRow(svc: AuthService, i: BotInstance, now: number): Html {
  const { bot_name: bot, instance_id: id } = i.spec;
  const beats = i.status.latest_heartbeats ?? [];
  const last = beats[beats.length - 1];
  const init = i.status.initial_authentication;
  return html`<tr><td>${bot}</td><td class="mono"><a href="/web/instance${query({ id: `${bot}/${id}` })}">${id}</a></td>
<td>${init?.authenticated_at ?? ""}</td><td>${init?.join_method ?? ""}</td><td>${i.status.generation ?? ""}</td>
<td>${last?.recorded_at ?? ""}</td><td>${last?.version ?? ""}</td><td>${last?.hostname ?? ""}</td>
<td class="health">${instanceHealth(i, now)}</td><td>${lockBadge(svc.lockIndex.find({ bot, instance: id }))}</td></tr>`;
}

/** The outputs of the latest heartbeat: health, why not, the certificate's expiry. */
function outputsTable(hb: Heartbeat | undefined): Html {
  const outs = hb?.outputs ?? [];
  if (!outs.length) return html`<p class="note">No outputs reported${hb ? "" : " (no heartbeat yet)"}.</p>`;
  return html`<table id="outputs"><thead><tr><th>Output</th><th>Type</th><th>Health</th><th>Expires</th></tr></thead><tbody>${outs.map(
    (o) =>
      html`<tr><td>${o.name}</td><td>${o.type}</td><td class="${o.healthy ? "ok" : "bad"}">${o.healthy ? "healthy" : `failing: ${o.reason ?? ""}`}</td><td>${o.expires ?? ""}</td></tr>`,
  )}</tbody></table>`;
}

function auditTable(events: { time: string; event: string; [k: string]: unknown }[]): Html {
  return html`<table class="audit"><thead><tr><th>Time</th><th>Event</th><th>Details</th></tr></thead><tbody>${events.map(
    (e) => {
      const { time, event, event_id: _id, ...rest } = e;
      return html`<tr><td>${time}</td><td>${event}</td><td class="mono">${JSON.stringify(rest)}</td></tr>`;
    },
  )}</tbody></table>`;
}

/**
 * Next / Previous / First for a forward-only listing: the cursors of the pages before this
 * one travel in `back` (the last MAX_BACK of them; further back, Previous leads to the first page).
 */
function pager(
  path: string,
  filter: Record<string, string | undefined>,
  ctx: RequestContext,
  next: string | undefined,
): Html {
  const href = (after: string | undefined, back: string[]) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(filter)) if (v) q.set(k, v);
    if (after) q.set("after", after);
    for (const b of back) q.append("back", b);
    const s = q.toString();
    return `${path}${s ? `?${s}` : ""}`;
  };
  const after = ctx.query.get("after") ?? "";
  const back = ctx.query.getAll("back");
  const links: Html[] = [];
  if (after) {
    links.push(html`<a href="${href(undefined, [])}" id="first">First</a>`);
    links.push(html`<a href="${href(back[back.length - 1], back.slice(0, -1))}" id="prev">Previous</a>`);
  }
  if (next !== undefined)
    links.push(
      html`<a href="${href(next, after ? [...back, after].slice(-MAX_BACK) : [])}" id="next">Next</a>`,
    );
  return html`<nav class="pager">${links}</nav>`;
}

async function tokensPage(
  svc: AuthService,
  p: PageCtx,
  after: string | undefined,
  flash?: Html,
): Promise<Html> {
  const r = await getResources(svc, { kind: "token", limit: WEB_PAGE, start_after: after });
  const rows = (
    r.resources as {
      metadata: { name: string; expires?: string };
      spec: { bot_name?: string; join_method?: string };
    }[]
  ).map(
    (
      t,
    ) => html`<tr><td class="mono">${t.metadata.name}</td><td>${t.spec.bot_name ?? ""}</td><td>${t.spec.join_method ?? ""}</td>
<td>${t.metadata.expires ?? ""}</td><td><form method="post" action="/web/tokens/delete" class="inline">${csrfField(p)}
<input type="hidden" name="name" value="${t.metadata.name}"><button>Delete</button></form></td></tr>`,
  );
  return layout(
    p,
    "Join tokens",
    "/web/tokens",
    html`${flash}<form class="filter" method="post" action="/web/tokens/create" id="create-token">${csrfField(p)}
<label>Bot <input name="bot" value="${p.ctx.query.get("bot") ?? ""}" required></label>
<label>TTL <input name="ttl" value="1h" size="6"></label><button>Create join token</button></form>
<table><thead><tr><th>Token</th><th>Bot</th><th>Method</th><th>Expires</th><th></th></tr></thead><tbody>${rows}</tbody></table>
${pager("/web/tokens", {}, p.ctx, r.next)}`,
  );
}
