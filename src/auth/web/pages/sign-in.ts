// The console's way in and out: /web (to the bots page), the one-time sign-in link
// (GET /web/login shows it, POST /web/login uses it up and starts a session) and sign-out
// (POST /web/logout).

import type { Route } from "../../http/router.ts";
import type { AuthService } from "../../service.ts";
import { html } from "../html.ts";
import { action, crossOrigin, htmlResponse, layout, redirect, signInPage } from "../page-kit.ts";
import {
  clearedCookie,
  cookieValue,
  endSession,
  loginLinkUsable,
  redeemLoginLink,
  SESSION_COOKIE,
  sessionCookie,
} from "../sessions.ts";

export function signInRoutes(svc: AuthService): Route[] {
  return [
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
    action(svc, "/web/logout", async (_f, p) => {
      const id = cookieValue(p.ctx.headers?.cookie, SESSION_COOKIE);
      if (id) await endSession(svc, id);
      return signInPage(200, "You have signed out.", { "set-cookie": clearedCookie });
    }),
  ];
}
