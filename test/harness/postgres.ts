// A real PostgreSQL server for tests: initdb into a temporary directory, started in the
// foreground on a free loopback port with its unix socket inside that directory, stopped by
// PID. PostgreSQL refuses to run as root, so under root (CI) initdb and postgres run as
// `nobody` (setpriv), and the directory is handed to that user. Optional TLS (a test CA, a
// server certificate for 127.0.0.1/localhost, client certificates) and a streaming standby
// (the read-only case) are made the way an operator would: openssl and pg_basebackup.

import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, type Proc, run, startProcess, tempDir } from "./proc.ts";
import { canActAsOtherUser, unprivilegedUser } from "./unprivileged.ts";

/** The newest installed server (Debian: /usr/lib/postgresql/<major>/bin); PG_BIN overrides. */
export function postgresBinDir(): string | null {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const base = "/usr/lib/postgresql";
  if (!existsSync(base)) return null;
  const majors = readdirSync(base)
    .filter((v) => existsSync(join(base, v, "bin", "postgres")))
    .sort((a, b) => Number(b) - Number(a));
  return majors[0] ? join(base, majors[0], "bin") : null;
}

export const postgresAvailable = () => postgresBinDir() !== null;

/** psql of the server's installation (PATH's otherwise). */
export function psqlPath(): string {
  const bin = postgresBinDir();
  return bin && existsSync(join(bin, "psql")) ? join(bin, "psql") : "psql";
}

/**
 * Server TLS from files the test made (e.g. `tctl auth sign --format=db`): they are copied
 * into the server's directory (the key 0600, owned by the server user) and pg_hba.conf gets
 * `hba` (default: certificate logins only over TLS, `cert clientcert=verify-full`).
 */
export interface PgServerTlsFiles {
  certFile: string;
  keyFile: string;
  caFile: string;
  hba?: string[];
}

export interface PgTls {
  /** The CA that signed the server's and the clients' certificates. */
  caFile: string;
  /** A client certificate and key for `user` (CN = user), signed by the CA. */
  clientCert(user: string): { cert: string; key: string };
}

export interface PgServer {
  port: number;
  socketDir: string;
  dataDir: string;
  /** Password of the superuser `postgres` (TCP logins need one; the unix socket trusts). */
  superPassword: string;
  tls?: PgTls;
  proc: Proc;
  /** A postgresql:// URL on 127.0.0.1. */
  url(o?: { user?: string; password?: string; database?: string; params?: Record<string, string> }): string;
  /** Run SQL as the superuser over the unix socket; throws with psql's output on failure. */
  psql(sql: string, database?: string): string;
  /** A login role with a password (idempotent). */
  createRole(name: string, password: string): void;
  /** A database owned by `owner`; `icu` picks an ICU default collation (e.g. "en-US"). */
  createDatabase(name: string, owner: string, o?: { icu?: string }): void;
  stop(): Promise<void>;
  /** Start again on the same directory and port (after stop): a database restart. */
  restart(): Promise<void>;
}

const running = new Set<PgServer>();

/**
 * Stop every server this file started, gracefully (fast shutdown), so none leaves shared
 * memory behind. Register it with afterAll BEFORE cleanupAfterFile(), which SIGKILLs.
 */
export async function stopAllPostgres(): Promise<void> {
  await Promise.all([...running].map((s) => s.stop()));
}

interface User {
  prefix: string[];
  uid?: number;
  gid?: number;
}

function serverUser(): User {
  if (!canActAsOtherUser()) return { prefix: [] };
  const u = unprivilegedUser("nobody");
  return {
    prefix: ["setpriv", `--reuid=${u.uid}`, `--regid=${u.gid}`, "--clear-groups", "--"],
    uid: u.uid,
    gid: u.gid,
  };
}

function must(cmd: string[], what: string, env?: Record<string, string>): string {
  const r = run(cmd, { env });
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}):\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

function giveTo(user: User, ...paths: string[]): void {
  if (user.uid === undefined || user.gid === undefined) return;
  for (const p of paths) chownSync(p, user.uid, user.gid);
}

const randomSecret = () => Buffer.from(crypto.getRandomValues(new Uint8Array(12))).toString("hex");

function makeTls(dir: string, user: User): PgTls & { serverCert: string; serverKey: string } {
  const ssl = (args: string[], what: string) => must(["openssl", ...args], `openssl ${what}`);
  const caKey = join(dir, "ca.key");
  const caFile = join(dir, "ca.crt");
  ssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", caKey], "CA key");
  ssl(
    ["req", "-x509", "-new", "-key", caKey, "-subj", "/CN=test postgres CA", "-days", "2", "-out", caFile],
    "CA",
  );
  const issue = (name: string, cn: string, ext: string) => {
    const key = join(dir, `${name}.key`);
    const csr = join(dir, `${name}.csr`);
    const cert = join(dir, `${name}.crt`);
    const extFile = join(dir, `${name}.ext`);
    writeFileSync(extFile, ext);
    ssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key], `${name} key`);
    ssl(["req", "-new", "-key", key, "-subj", `/CN=${cn}`, "-out", csr], `${name} request`);
    ssl(
      ["x509", "-req", "-in", csr, "-CA", caFile, "-CAkey", caKey, "-CAcreateserial", "-days", "2"].concat([
        "-extfile",
        extFile,
        "-out",
        cert,
      ]),
      `${name} certificate`,
    );
    return { cert, key };
  };
  const server = issue("server", "localhost", "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  // The server reads its key as the server user and insists on 0600.
  giveTo(user, server.key, server.cert, caFile);
  return {
    caFile,
    serverCert: server.cert,
    serverKey: server.key,
    clientCert: (u) => issue(`client-${u}`, u, "extendedKeyUsage=clientAuth\n"),
  };
}

export async function startPostgres(
  o: { tls?: boolean; standbyOf?: PgServer; serverTls?: PgServerTlsFiles } = {},
): Promise<PgServer> {
  const bin = postgresBinDir();
  if (!bin) throw new Error("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/postgres)");
  const user = serverUser();
  const dir = tempDir("pg-");
  const dataDir = join(dir, "data");
  giveTo(user, dir);
  const env = { LC_ALL: "C", LANG: "C", PGTZ: "UTC" };
  const superPassword = o.standbyOf?.superPassword ?? randomSecret();
  if (o.standbyOf) {
    // A streaming replica of the primary: read-only, like a hot standby after failover setup.
    must(
      [
        ...user.prefix,
        join(bin, "pg_basebackup"),
        "-h",
        o.standbyOf.socketDir,
        "-p",
        String(o.standbyOf.port),
      ].concat(["-U", "postgres", "-D", dataDir, "-R", "-X", "stream", "--checkpoint=fast"]),
      "pg_basebackup",
      env,
    );
  } else {
    const pwFile = join(dir, "pw");
    writeFileSync(pwFile, `${superPassword}\n`, { mode: 0o600 });
    giveTo(user, pwFile);
    must(
      [...user.prefix, join(bin, "initdb"), "-D", dataDir, "-U", "postgres", "--pwfile", pwFile].concat([
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        "-E",
        "UTF8",
        "--no-locale",
        "-N",
      ]),
      "initdb",
      env,
    );
  }
  const settings = [
    "listen_addresses=127.0.0.1",
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
    "max_connections=300",
    // Kept in the data directory, so nothing is left in /dev/shm if a test is killed.
    "dynamic_shared_memory_type=mmap",
    "log_min_messages=warning",
  ];
  let tls: PgTls | undefined;
  if (o.tls) {
    const tlsDir = join(dir, "tls");
    mkdirSync(tlsDir);
    const t = makeTls(tlsDir, user);
    tls = t;
    settings.push(
      "ssl=on",
      `ssl_cert_file=${t.serverCert}`,
      `ssl_key_file=${t.serverKey}`,
      `ssl_ca_file=${t.caFile}`,
    );
    // TLS logins by certificate (CN = user name), password logins as before.
    writeFileSync(
      join(dataDir, "pg_hba.conf"),
      [
        "local all all trust",
        "local replication all trust",
        "hostssl all certuser 127.0.0.1/32 cert",
        "host all all 127.0.0.1/32 scram-sha-256",
        "",
      ].join("\n"),
    );
  }
  if (o.serverTls) {
    const tlsDir = join(dir, "server-tls");
    mkdirSync(tlsDir);
    const copy = (from: string, name: string, mode: number) => {
      const to = join(tlsDir, name);
      writeFileSync(to, readFileSync(from), { mode });
      giveTo(user, to);
      return to;
    };
    settings.push(
      "ssl=on",
      `ssl_cert_file=${copy(o.serverTls.certFile, "server.crt", 0o644)}`,
      `ssl_key_file=${copy(o.serverTls.keyFile, "server.key", 0o600)}`,
      `ssl_ca_file=${copy(o.serverTls.caFile, "server.cas", 0o644)}`,
    );
    giveTo(user, tlsDir);
    writeFileSync(
      join(dataDir, "pg_hba.conf"),
      [
        "local all all trust",
        "local replication all trust",
        ...(o.serverTls.hba ?? ["hostssl all all 127.0.0.1/32 cert clientcert=verify-full"]),
        "",
      ].join("\n"),
    );
  }
  const port = await freePort();
  const launch = async () => {
    const p = startProcess(
      [...user.prefix, join(bin, "postgres"), "-D", dataDir, "-k", dir, "-p", String(port)].concat(
        settings.flatMap((s) => ["-c", s]),
      ),
      { env },
    );
    await p.waitFor(/database system is ready to accept (read-only )?connections/, 30_000);
    return p;
  };
  const psqlBin = existsSync(join(bin, "psql")) ? join(bin, "psql") : "psql";
  const server: PgServer = {
    port,
    socketDir: dir,
    dataDir,
    superPassword,
    tls,
    proc: await launch(),
    url(u = {}) {
      const user = encodeURIComponent(u.user ?? "postgres");
      const pw = u.password ?? (u.user ? undefined : superPassword);
      const auth = pw === undefined ? user : `${user}:${encodeURIComponent(pw)}`;
      const q = new URLSearchParams(u.params ?? {}).toString();
      return `postgresql://${auth}@127.0.0.1:${port}/${encodeURIComponent(u.database ?? "postgres")}${q ? `?${q}` : ""}`;
    },
    psql(sql, database = "postgres") {
      return must(
        [
          psqlBin,
          "-X",
          "-q",
          "-At",
          "-v",
          "ON_ERROR_STOP=1",
          "-h",
          dir,
          "-p",
          String(port),
          "-U",
          "postgres",
        ].concat(["-d", database, "-c", sql]),
        `psql ${sql}`,
        env,
      );
    },
    createRole(name, password) {
      const lit = (s: string) => `'${s.replaceAll("'", "''")}'`;
      server.psql(
        `DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = ${lit(name)}) THEN ` +
          `CREATE ROLE "${name}" LOGIN PASSWORD ${lit(password)}; END IF; END$$`,
      );
    },
    createDatabase(name, owner, opts = {}) {
      const icu = opts.icu ? ` LOCALE_PROVIDER icu ICU_LOCALE '${opts.icu}' TEMPLATE template0` : "";
      server.psql(`CREATE DATABASE "${name}" OWNER "${owner}"${icu}`);
    },
    async stop() {
      running.delete(server);
      // SIGINT is PostgreSQL's fast shutdown: sessions are ended, shared memory released.
      await server.proc.stop("SIGINT");
    },
    async restart() {
      server.proc = await launch();
      running.add(server);
    },
  };
  running.add(server);
  return server;
}
