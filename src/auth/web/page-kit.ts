// What every page of the web console is made with: the responses (security headers,
// redirects), the layout and its navigation, the registration of a page (GET, signed in) and of
// an action (POST of a form: session, same origin, CSRF token), the query and pager helpers, and
// the small pieces more than one page shows (a lock badge, an audit table).
//
// Every page reads one page of its kind through the admin operations (never a whole prefix);
// every change is a POST of an HTML form that must carry the session cookie, come from this
// origin (Origin / Sec-Fetch-Site) and carry the session's CSRF token (checked in constant time).
// Changes are audited with the actor "web:admin:<ID>".

import { UserError } from "../../util/errors.ts";
import type { RequestContext, Route } from "../http/router.ts";
import { RawResponse } from "../http/server.ts";
import type { AuthService } from "../service.ts";
import type { Lock } from "../store/types.ts";
import { Html, html } from "./html.ts";
import { cookieValue, csrfMatches, SESSION_COOKIE, sessionOf, type WebSession } from "./sessions.ts";

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

export function htmlResponse(
  body: Html,
  status = 200,
  extra: Record<string, string | string[]> = {},
): RawResponse {
  return new RawResponse(
    `<!doctype html>\n${body.text}`,
    { "content-type": "text/html; charset=utf-8", ...SECURITY_HEADERS, ...extra },
    status,
  );
}

export const redirect = (to: string, extra: Record<string, string | string[]> = {}) =>
  new RawResponse("", { location: to, ...SECURITY_HEADERS, ...extra }, 303);

export interface PageCtx {
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

export function layout(p: PageCtx | null, title: string, current: string, body: Html): Html {
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

export const csrfField = (p: PageCtx) => html`<input type="hidden" name="csrf" value="${p.session.csrf}">`;

export function signInPage(status: number, message: string, extra: Record<string, string> = {}): RawResponse {
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
export function crossOrigin(ctx: RequestContext): string | null {
  const site = first(ctx.headers?.["sec-fetch-site"]);
  if (site !== undefined && site !== "same-origin") return `Sec-Fetch-Site is ${site}`;
  const origin = first(ctx.headers?.origin);
  const self = `https://${ctx.host ?? ""}`;
  if (origin !== undefined && origin !== self) return `Origin ${origin} is not ${self}`;
  return null;
}

/** A page: GET, for a signed-in session only; a UserError becomes an error page. */
export function page(
  svc: AuthService,
  path: string,
  render: (p: PageCtx) => Promise<Html | RawResponse>,
): Route {
  return {
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
  };
}

/**
 * A change: the POST of a form, for a signed-in session, from this origin, with the session's
 * CSRF token. `run` answers with where to go next (a path), a page, or a response of its own.
 */
export function action(
  svc: AuthService,
  path: string,
  run: (form: URLSearchParams, p: PageCtx) => Promise<string | Html | RawResponse>,
): Route {
  return {
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
  };
}

/** A query parameter, trimmed; empty is absent. */
export const pick = (ctx: RequestContext, k: string) => ctx.query.get(k)?.trim() || undefined;

/** Where a form may send the browser back to: a path of this console only. */
export function localPath(p: string | null): string | undefined {
  return p && /^\/web\/[A-Za-z0-9/_?=&%.-]*$/.test(p) && !p.startsWith("//") ? p : undefined;
}

/**
 * Next / Previous / First for a forward-only listing: the cursors of the pages before this
 * one travel in `back` (the last MAX_BACK of them; further back, Previous leads to the first page).
 */
export function pager(
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

export function lockBadge(lock: Lock | null): Html {
  return lock
    ? html`<span class="bad" title="${lock.spec.message}">locked</span>`
    : html`<span class="ok">—</span>`;
}

export function auditTable(events: { time: string; event: string; [k: string]: unknown }[]): Html {
  return html`<table class="audit"><thead><tr><th>Time</th><th>Event</th><th>Details</th></tr></thead><tbody>${events.map(
    (e) => {
      const { time, event, event_id: _id, ...rest } = e;
      return html`<tr><td>${time}</td><td>${event}</td><td class="mono">${JSON.stringify(rest)}</td></tr>`;
    },
  )}</tbody></table>`;
}
