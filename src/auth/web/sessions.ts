// Web console sign-in: a one-time link minted for an admin identity (`tctl web login`), and
// the browser session it is redeemed for. Only SHA-256 hashes of the link's secret and of the
// session ID are stored, in the shared backend with an expiry, so any replica redeems a link
// or serves a session and a copy of the database holds nothing a browser could present.
// A link is redeemed by deleteIfRevision: of two concurrent redemptions (on any replicas) one
// wins, the other finds it gone.

import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { isCode } from "../../util/errors.ts";
import { jsonItem, parseItem } from "../backend/backend.ts";
import { adminIdentityRefusal } from "../locks.ts";
import type { AuthService } from "../service.ts";

export const LOGIN_LINK_TTL_MS = 5 * 60_000;
export const SESSION_TTL_MS = 8 * 3600_000;
export const SESSION_COOKIE = "tauth_session";

const LINKS = "/web_login_links/";
const SESSIONS = "/web_sessions/";

const hash = (s: string) => createHash("sha256").update(s).digest("hex");
const secret = () => randomBytes(32).toString("base64url");

interface StoredLink {
  /** Who the session will act as: "admin:<ID>". */
  admin: string;
  admin_identity_id?: string;
  expires: string;
}

export interface WebSession {
  admin: string;
  admin_identity_id?: string;
  csrf: string;
  created: string;
  expires: string;
}

/** A new one-time sign-in secret for `admin` (the caller of `tctl web login`). */
export async function mintLoginLink(
  svc: AuthService,
  admin: string,
  adminIdentityId: string | undefined,
): Promise<{ token: string; expires: string }> {
  const token = secret();
  const expires = new Date(Date.now() + LOGIN_LINK_TTL_MS);
  const link: StoredLink = {
    admin,
    ...(adminIdentityId ? { admin_identity_id: adminIdentityId } : {}),
    expires: expires.toISOString(),
  };
  await svc.backend.create(jsonItem(LINKS + hash(token), link, expires));
  svc.audit.emit("web.login_link.create", { by: admin, expires: link.expires });
  return { token, expires: link.expires };
}

/** Whether a sign-in secret would be accepted now (without using it up). */
export async function loginLinkUsable(svc: AuthService, token: string): Promise<boolean> {
  if (!token || token.length > 128) return false;
  const item = await svc.backend.get(LINKS + hash(token));
  return !!item && Date.parse(parseItem<StoredLink>(item).expires) > Date.now();
}

/**
 * Redeems a sign-in secret once: a new session (its ID, for the cookie) or null when the
 * link is unknown, used or expired.
 */
export async function redeemLoginLink(
  svc: AuthService,
  token: string,
  remoteAddr: string,
): Promise<{ id: string; session: WebSession } | null> {
  if (!token || token.length > 128) return null;
  const key = LINKS + hash(token);
  const item = await svc.backend.get(key);
  if (!item) return null;
  try {
    await svc.backend.deleteIfRevision(key, item.revision);
  } catch (e) {
    if (isCode(e, "compare_failed")) return null;
    throw e;
  }
  const link = parseItem<StoredLink>(item);
  if (Date.parse(link.expires) <= Date.now()) return null;
  if (await adminIdentityRefusal(svc, link.admin_identity_id)) return null;
  const id = secret();
  const expires = new Date(Date.now() + SESSION_TTL_MS);
  const session: WebSession = {
    admin: link.admin,
    ...(link.admin_identity_id ? { admin_identity_id: link.admin_identity_id } : {}),
    csrf: secret(),
    created: new Date().toISOString(),
    expires: expires.toISOString(),
  };
  await svc.backend.create(jsonItem(SESSIONS + hash(id), session, expires));
  svc.audit.emit("web.login", { by: `web:${link.admin}`, remote_addr: remoteAddr });
  return { id, session };
}

/**
 * The live session a cookie names, or null. A session ends with its admin identity: a lock
 * on (or the expiry of) the identity that minted the link signs the browser out too.
 */
export async function sessionOf(svc: AuthService, id: string | undefined): Promise<WebSession | null> {
  if (!id || id.length > 128) return null;
  const item = await svc.backend.get(SESSIONS + hash(id));
  if (!item) return null;
  const s = parseItem<WebSession>(item);
  if (Date.parse(s.expires) <= Date.now()) return null;
  if (await adminIdentityRefusal(svc, s.admin_identity_id)) return null;
  return s;
}

export async function endSession(svc: AuthService, id: string): Promise<void> {
  try {
    await svc.backend.delete(SESSIONS + hash(id));
  } catch (e) {
    if (!isCode(e, "not_found")) throw e;
  }
}

/** Constant-time comparison of a submitted CSRF token with the session's. */
export function csrfMatches(session: WebSession, submitted: string | null | undefined): boolean {
  if (!submitted) return false;
  const a = createHash("sha256").update(session.csrf).digest();
  const b = createHash("sha256").update(submitted).digest();
  return timingSafeEqual(a, b);
}

/** The value of one cookie in a Cookie header. */
export function cookieValue(header: string | string[] | undefined, name: string): string | undefined {
  const text = Array.isArray(header) ? header.join("; ") : (header ?? "");
  for (const part of text.split(";")) {
    const i = part.indexOf("=");
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

export const sessionCookie = (id: string) =>
  `${SESSION_COOKIE}=${id}; HttpOnly; Secure; SameSite=Strict; Path=/web; Max-Age=${SESSION_TTL_MS / 1000}`;
export const clearedCookie = `${SESSION_COOKIE}=; HttpOnly; Secure; SameSite=Strict; Path=/web; Max-Age=0`;
