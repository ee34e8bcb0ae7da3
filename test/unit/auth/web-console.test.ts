// The web console's pieces in-process: HTML escaping, cookies, CSRF comparison, and sign-in
// links: single use under concurrent redemption, expiry, sessions that end with their admin
// identity (locked) or on sign-out, and nothing but hashes stored.

import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureAdminIdentity } from "../../../src/auth/admin-identity.ts";
import { createLock } from "../../../src/auth/locks.ts";
import { AuthService } from "../../../src/auth/service.ts";
import { escapeHtml, html } from "../../../src/auth/web/html.ts";
import {
  cookieValue,
  csrfMatches,
  endSession,
  loginLinkUsable,
  mintLoginLink,
  redeemLoginLink,
  sessionCookie,
  sessionOf,
} from "../../../src/auth/web/sessions.ts";

let base: string;
let svc: AuthService;
let adminId: string;

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), "web-unit-"));
  svc = await AuthService.open({ dataDir: join(base, "data"), clusterName: "unit.test" });
  adminId = (await ensureAdminIdentity(svc)).id;
});
afterAll(async () => {
  await svc.close();
  rmSync(base, { recursive: true, force: true });
});

describe("html", () => {
  test("every interpolated value is escaped unless it is Html", () => {
    const evil = `<script>alert("x")</script>' onmouseover='1\``;
    const out = html`<p title="${evil}">${evil}${html`<b>${"&"}</b>`}${[1, "<i>"]}${null}${undefined}${false}</p>`;
    expect(out.text).toBe(
      `<p title="${escapeHtml(evil)}">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39; onmouseover=&#39;1&#96;<b>&amp;</b>1&lt;i&gt;</p>`,
    );
    expect(out.text).not.toContain("<script>");
  });
});

describe("cookies and CSRF", () => {
  test("the session cookie is HttpOnly, Secure, SameSite=Strict, for /web only; its value is read back", () => {
    const c = sessionCookie("abc");
    for (const a of ["HttpOnly", "Secure", "SameSite=Strict", "Path=/web"]) expect(c).toContain(a);
    expect(cookieValue("a=1; tauth_session=abc; b=2", "tauth_session")).toBe("abc");
    expect(cookieValue("xtauth_session=abc", "tauth_session")).toBeUndefined();
    expect(cookieValue(undefined, "tauth_session")).toBeUndefined();
  });
  test("CSRF tokens compare whole, missing ones never match", () => {
    const s = { admin: "a", csrf: "token-1", created: "", expires: "" };
    expect(csrfMatches(s, "token-1")).toBe(true);
    expect(csrfMatches(s, "token-")).toBe(false);
    expect(csrfMatches(s, "")).toBe(false);
    expect(csrfMatches(s, null)).toBe(false);
  });
});

describe("sign-in links and sessions", () => {
  test("a link is redeemed once, even by concurrent requests; only hashes are stored", async () => {
    const { token } = await mintLoginLink(svc, `admin:${adminId}`, adminId);
    // Looking does not use it up.
    expect(await loginLinkUsable(svc, token)).toBe(true);
    expect(await loginLinkUsable(svc, token)).toBe(true);
    const results = await Promise.all(Array.from({ length: 8 }, () => redeemLoginLink(svc, token, "test")));
    const won = results.filter((r) => r !== null);
    expect(won).toHaveLength(1);
    expect(await redeemLoginLink(svc, token, "test")).toBeNull();
    expect(await loginLinkUsable(svc, token)).toBe(false);
    const session = await sessionOf(svc, won[0]!.id);
    expect(session?.admin).toBe(`admin:${adminId}`);
    const stored = [
      ...(await svc.backend.list("/web_login_links/")),
      ...(await svc.backend.list("/web_sessions/")),
    ];
    for (const it of stored) {
      expect(it.key).not.toContain(token);
      expect(it.key).not.toContain(won[0]!.id);
      expect(it.value).not.toContain(won[0]!.id);
    }
    await endSession(svc, won[0]!.id);
    expect(await sessionOf(svc, won[0]!.id)).toBeNull();
  });

  test("unknown or malformed links and session IDs are refused", async () => {
    expect(await redeemLoginLink(svc, "", "t")).toBeNull();
    expect(await redeemLoginLink(svc, "x".repeat(500), "t")).toBeNull();
    expect(await redeemLoginLink(svc, "not-a-link", "t")).toBeNull();
    expect(await sessionOf(svc, "not-a-session")).toBeNull();
    expect(await sessionOf(svc, undefined)).toBeNull();
  });

  test("an expired link is refused", async () => {
    const { token } = await mintLoginLink(svc, `admin:${adminId}`, adminId);
    const realNow = Date.now;
    Date.now = () => realNow() + 6 * 60_000;
    try {
      expect(await redeemLoginLink(svc, token, "t")).toBeNull();
    } finally {
      Date.now = realNow;
    }
  });

  test("a session ends when its admin identity is locked", async () => {
    const { token } = await mintLoginLink(svc, `admin:${adminId}`, adminId);
    const r = (await redeemLoginLink(svc, token, "t"))!;
    expect(await sessionOf(svc, r.id)).not.toBeNull();
    await createLock(svc, { admin_identity: adminId }, "test", "unit");
    expect(await sessionOf(svc, r.id)).toBeNull();
    const { token: t2 } = await mintLoginLink(svc, `admin:${adminId}`, adminId);
    expect(await redeemLoginLink(svc, t2, "t")).toBeNull();
  });
});
