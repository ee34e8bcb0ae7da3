// The PostgreSQL connection string of `storage.conn_string` / `--conn-string`: checked once,
// before any connection, so a typo is one line naming the setting; and described without
// its secrets, because the string may carry a password and is shown in logs and errors.
//
// Several hosts may be listed, as libpq allows (postgresql://u@db1:5432,db2:5432/tauth?
// target_session_attrs=read-write): Bun's client takes one host per URL and ignores
// target_session_attrs, so the string is split here into one URL per host, and
// postgres-failover.ts finds the writable one (tauth writes, so read-write is the only
// session it can use).

import { accessSync, constants } from "node:fs";
import { badParameter } from "../../util/errors.ts";

/** One host of the string: a single-host URL for the driver, and how to name it. */
export interface PgHost {
  url: string;
  where: string;
}

export interface PgTarget {
  /** The string as given (the first host's URL when it lists several): only ever passed to the driver, never printed. */
  url: string;
  /** Every host, in the order given; one for an ordinary string. */
  hosts: PgHost[];
  /** postgresql://user@host:port/database: what logs and errors show. */
  display: string;
  /** host:port (or the socket directory), for "cannot connect to ..." lines. */
  where: string;
  database: string;
  user: string;
  /** The pool size (`max` parameter; Bun's default 10). */
  max: number;
  /** Whether the string sets connect_timeout itself. */
  hasConnectTimeout: boolean;
  /** Strings that must never appear in output: passwords, in every spelling. */
  secrets: string[];
}

const SSL_MODES = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"];
export const CONN_STRING_EXAMPLE =
  "postgresql://tauth@db.example.com:5432/tauth?sslmode=verify-full&sslrootcert=/etc/tauth/pg-ca.pem";

const SESSION_ATTRS = ["any", "read-write", "primary"];

/** libpq's multi-host form split into one string per host (the string itself when it has one). */
function splitHosts(s: string, setting: string): string[] {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/s.exec(s);
  if (!m) return [s];
  const [, scheme, authority, rest] = m as unknown as [string, string, string, string];
  const at = authority.lastIndexOf("@");
  const user = at >= 0 ? authority.slice(0, at + 1) : "";
  const hosts = authority.slice(at + 1);
  if (!hosts.includes(",")) return [s];
  const list = hosts.split(",");
  if (list.some((h) => !h))
    throw badParameter(`${setting} lists an empty host (two commas, or one at an end)`);
  return list.map((h) => `${scheme}${user}${h}${rest}`);
}

export function parseConnString(s: string, setting = "conn_string"): PgTarget {
  const parts = splitHosts(s, setting);
  const first = parseOneHost(parts[0]!, setting);
  const attrs = new URLSearchParams(s.includes("?") ? s.slice(s.indexOf("?") + 1) : "").get(
    "target_session_attrs",
  );
  if (attrs !== null && !SESSION_ATTRS.includes(attrs))
    throw badParameter(
      `${setting}: target_session_attrs=${attrs} is not one tauth can use (it writes): use read-write`,
    );
  if (parts.length === 1) return { ...first, hosts: [{ url: s, where: first.where }] };
  const hosts = parts.map((p) => ({ url: p, where: parseOneHost(p, setting).where }));
  const where = hosts.map((h) => h.where).join(",");
  return {
    ...first,
    url: parts[0]!,
    hosts,
    where,
    display: `postgresql://${encodeURIComponent(first.user)}@${where}/${encodeURIComponent(first.database)}`,
  };
}

function parseOneHost(s: string, setting: string): Omit<PgTarget, "hosts"> {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    // Not echoed: a malformed string may still hold a password.
    throw badParameter(`${setting} is not a URL; expected e.g. ${CONN_STRING_EXAMPLE}`);
  }
  if (u.protocol !== "postgresql:" && u.protocol !== "postgres:")
    throw badParameter(`${setting} must start with postgresql:// (got ${u.protocol}//...)`);
  const q = u.searchParams;
  const secrets = [u.password, safeDecode(u.password), q.get("password"), q.get("sslpassword")].filter(
    (x): x is string => !!x && x.length > 0,
  );
  const host = q.get("host") ?? q.get("path") ?? q.get("socket") ?? u.hostname;
  if (!host) throw badParameter(`${setting} names no host; expected e.g. ${CONN_STRING_EXAMPLE}`);
  if (host.includes(","))
    throw badParameter(
      `${setting}: list several hosts in the URL itself (postgresql://user@db1:5432,db2:5432/tauth), not in a host parameter`,
    );
  const port = q.get("port") ?? (u.port || "5432");
  const user =
    q.get("user") ?? (safeDecode(u.username) || process.env.PGUSER || process.env.USER || "postgres");
  const database = q.get("dbname") ?? (safeDecode(u.pathname.replace(/^\//, "")) || user);
  const sslmode = q.get("sslmode");
  if (sslmode !== null && !SSL_MODES.includes(sslmode))
    throw badParameter(`${setting}: sslmode=${sslmode} is not one of ${SSL_MODES.join(", ")}`);
  for (const p of ["sslrootcert", "sslcert", "sslkey"]) {
    const f = q.get(p);
    if (f === null) continue;
    try {
      accessSync(f, constants.R_OK);
    } catch (e) {
      throw badParameter(`${setting}: ${p} ${f} cannot be read (${(e as NodeJS.ErrnoException).code ?? e})`);
    }
  }
  const max = q.has("max") ? Number(q.get("max")) : 10;
  if (!Number.isSafeInteger(max) || max < 1)
    throw badParameter(`${setting}: max=${q.get("max")} is not a pool size`);
  // WHATWG URL keeps an IPv6 host in brackets already; a `host` parameter has none.
  const bracketed = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  const where = host.startsWith("/") ? `${host} (port ${port})` : `${bracketed}:${port}`;
  return {
    url: s,
    display: `postgresql://${encodeURIComponent(user)}@${where}/${encodeURIComponent(database)}`,
    where,
    database,
    user,
    max,
    hasConnectTimeout: q.has("connect_timeout"),
    secrets,
  };
}

function safeDecode(x: string): string {
  try {
    return decodeURIComponent(x);
  } catch {
    return x;
  }
}

/** The text with every secret of the target replaced; for anything that reaches output. */
export function redact(text: string, t: Pick<PgTarget, "secrets">): string {
  let out = text;
  for (const s of t.secrets) out = out.split(s).join("***");
  return out;
}
