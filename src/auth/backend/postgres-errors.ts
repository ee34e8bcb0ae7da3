// What a PostgreSQL failure means for tauth: which ones may be retried (a dropped connection,
// a serialization failure), and the one line an operator sees when tauth cannot start on its
// database. Bun's client puts its own code in `code` (ERR_POSTGRES_...) and the server's
// SQLSTATE in `errno`; TLS failures are plain Errors with OpenSSL-style codes.

import { connectionProblem, UserError } from "../../util/errors.ts";
import { logger } from "../../util/log.ts";
import { type PgTarget, redact } from "./postgres-conn.ts";

interface PgErrorLike {
  code?: string;
  errno?: string;
  message?: string;
}

const log = logger("AUTH:BACKEND");

const pg = (e: unknown): PgErrorLike => (e && typeof e === "object" ? (e as PgErrorLike) : {});

/** The transaction was aborted because of a concurrent one; running it again is the remedy. */
export function isSerializationFailure(e: unknown): boolean {
  const { errno } = pg(e);
  return errno === "40001" || errno === "40P01";
}

/**
 * The connection is gone (or never came): the statement either never ran, ran and was rolled
 * back, or — only when its reply was lost after COMMIT — ran and committed. Callers decide
 * whether a retry is safe (see postgres.ts).
 */
export function isConnectionLost(e: unknown): boolean {
  const { code, errno } = pg(e);
  if (errno?.startsWith("08")) return true; // connection_exception class
  // admin_shutdown (pg_terminate_backend, server stop), crash_shutdown, cannot_connect_now.
  if (errno === "57P01" || errno === "57P02" || errno === "57P03") return true;
  return (
    code === "ERR_POSTGRES_CONNECTION_CLOSED" ||
    code === "ERR_POSTGRES_CONNECTION_FAILED" ||
    code === "ERR_POSTGRES_CONNECTION_REFUSED" ||
    code === "ERR_POSTGRES_CONNECTION_TIMEOUT" ||
    code === "ECONNRESET" ||
    code === "EPIPE"
  );
}

const isReadOnly = (e: unknown) => pg(e).errno === "25006";

/**
 * A failure while serving. A database outage becomes connection_problem (HTTP 503) with a
 * message that names no database host (it goes to API clients); the details, without
 * secrets, go to the log for the operator. Anything else is returned as is.
 */
export function runtimeError(e: unknown, t: PgTarget): unknown {
  if (e instanceof UserError) return e;
  const why = (() => {
    if (isConnectionLost(e)) return "lost the connection";
    if (isReadOnly(e)) return "the database is read-only (a standby after failover?)";
    if (isSerializationFailure(e)) return "a transaction kept failing for concurrent changes";
    return null;
  })();
  if (!why) return e;
  log.warn(`PostgreSQL: ${why}`, {
    db: t.display,
    error: redact(pg(e).message ?? String(e), t),
    sqlstate: pg(e).errno,
  });
  return connectionProblem(`the auth service's database is unavailable (${why}); try again`);
}

/** The one line for a database tauth cannot start on. */
export function openError(e: unknown, t: PgTarget): UserError {
  // Ours (standby, schema too new) are phrased to follow "PostgreSQL at host:port".
  if (e instanceof UserError)
    return new UserError(redact(`storage: PostgreSQL at ${t.where} ${e.message}`, t));
  const { code, errno } = pg(e);
  const msg = redact(pg(e).message ?? String(e), t);
  const at = `PostgreSQL at ${t.where}`;
  const line = (() => {
    switch (code) {
      case "ERR_POSTGRES_CONNECTION_REFUSED":
        return `cannot connect to ${at}: connection refused or host not found (is the server running, and are conn_string's host and port right?)`;
      case "ERR_POSTGRES_CONNECTION_TIMEOUT":
        return `cannot connect to ${at}: no answer in time (firewall, wrong host, or server down?)`;
      case "ERR_POSTGRES_CONNECTION_FAILED":
      case "ERR_POSTGRES_CONNECTION_CLOSED":
        return `cannot connect to ${at}: the server closed the connection (${msg})`;
      case "ERR_POSTGRES_TLS_NOT_AVAILABLE":
        return `cannot connect to ${at}: the server does not offer TLS, which conn_string's sslmode requires`;
      case "ERR_POSTGRES_TLS_UPGRADE_FAILED":
        return `TLS to ${at} failed: ${msg}`;
    }
    switch (errno) {
      case "28P01":
        return `${at} refused user "${t.user}": wrong password (${msg})`;
      case "28000":
        return `${at} refused user "${t.user}": ${msg} (check pg_hba.conf and conn_string's user, sslcert and sslkey)`;
      case "3D000":
        return `${at} has no database "${t.database}": create it (createdb -O ${t.user} ${t.database}) or fix conn_string`;
      case "57P03":
        return `${at} is not accepting connections yet: ${msg}`;
      case "25006":
        return `${at} is read-only (${msg}): tauth writes, so point conn_string at the primary`;
      case "42501":
        return `${at}: user "${t.user}" may not create tauth's tables in database "${t.database}" (${msg}); make it the database's owner or GRANT CREATE ON SCHEMA public TO ${t.user}`;
      case "42704":
        return `${at} refused a parameter of conn_string: ${msg}`;
    }
    // Certificate checks fail with OpenSSL's codes (SELF_SIGNED_CERT_IN_CHAIN, ...), not ERR_POSTGRES_*.
    if (code && !code.startsWith("ERR_POSTGRES") && !errno)
      return `TLS to ${at} failed: ${msg} (check sslrootcert and the server's certificate)`;
    return `${at}: ${msg}${errno ? ` (SQLSTATE ${errno})` : ""}`;
  })();
  return new UserError(`storage: ${line}`);
}
