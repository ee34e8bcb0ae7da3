// The tbot `database` and `application` outputs on the compiled binary (issue Part 9, points 2,
// 3 and 6): a real PostgreSQL 15 set up with `tctl auth sign --format=db` (server certificate)
// and `tctl auth export --type=db-client` (ssl_ca_file), pg_hba `hostssl … cert
// clientcert=verify-full`, lets psql in as app_ro with the files a one-shot `database` output
// wrote (default format: tlscert/key/teleport-database-ca.crt; `tls`: tls.crt/tls.key/tls.cas),
// also after a SIGHUP renewal of a daemon; a user the bot's roles do not allow is refused by
// tauth with its one line and nothing is written; `tbot start database|application` build the
// same outputs from flags; a real nginx with `ssl_verify_client on` and the cluster's app CA
// answers 200 with the `application` output's files (and its specific_tls_naming tls.* files),
// 400 without; psql run as a reader named in `readers` logs in with the key behind the ACL.

import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { join } from "node:path";
import { tbotBin } from "../harness/binary.ts";
import {
  dbAppResources,
  signDbServer,
  startAppNginx,
  startDbPostgres,
  stopServersAfterFile,
} from "../harness/db-app.ts";
import { expectOneErrorLine, fileScope, outputFailed, tauthAndWorkDir, until } from "../harness/extra.ts";
import { nginxAvailable } from "../harness/nginx.ts";
import { type PgServer, postgresAvailable, psqlPath } from "../harness/postgres.ts";
import { cleanupAfterFile, type RunResult, run, startProcess } from "../harness/proc.ts";
import type { TauthHandle } from "../harness/tauth.ts";
import { type TokenBots, tokenBots } from "../harness/tbot-config.ts";
import { canActAsOtherUser } from "../harness/unprivileged.ts";

stopServersAfterFile();
cleanupAfterFile();
const scope = fileScope();

let auth: TauthHandle;
let work: string;
let bots: TokenBots;

beforeAll(async () => {
  // 0755: a reader (last test) must reach the destinations below.
  ({ auth, work } = await tauthAndWorkDir(scope, {
    prefix: "outputs-db-app-",
    resources: dbAppResources(),
    worldReadable: true,
  }));
  bots = tokenBots(auth, work, "dbapp", "db-ro,app-prod");
}, 60_000);

/** A tbot.yaml for a new bot (roles db-ro, app-prod) with one output (`service`: YAML lines). */
const config = (service: string, o: { oneshot?: boolean } = {}): string => bots.config(service, o).path;
/** The flags of `tbot start <mode>` for a new bot, one-shot, storage in memory. */
const startFlags = (): string[] => bots.startFlags();

const start = (cfg: string): RunResult => run([tbotBin, "start", "-c", cfg]);
const ok = (r: RunResult): RunResult => {
  if (r.code !== 0) throw new Error(`tbot failed (${r.code}): ${r.stderr}`);
  return r;
};
const generation = (dest: string, set: string) => readlinkSync(join(dest, `..${set}`));
const serial = (cert: string) => run(["openssl", "x509", "-in", cert, "-noout", "-serial"]).stdout.trim();
const visible = (dest: string) =>
  readdirSync(dest)
    .filter((f) => !f.startsWith("."))
    .sort();

describe.if(postgresAvailable())("database output with a real PostgreSQL 15", () => {
  let pg: PgServer;

  beforeAll(async () => {
    const files = { prefix: join(work, "pg-server"), caFile: join(work, "db-client-ca.crt") };
    signDbServer(auth, files);
    pg = await startDbPostgres(files);
  }, 60_000);

  /** psql "sslmode=verify-full sslrootcert=… sslcert=… sslkey=… host=127.0.0.1 user=app_ro dbname=app". */
  const psqlArgs = (root: string, cert: string, key: string, user = "app_ro") => [
    psqlPath(),
    "-X",
    "-At",
    "-c",
    "select current_user",
    `sslmode=verify-full sslrootcert=${root} sslcert=${cert} sslkey=${key} host=127.0.0.1 port=${pg.port} user=${user} dbname=app`,
  ];
  const psql = (root: string, cert: string, key: string, user?: string) =>
    run(psqlArgs(root, cert, key, user));

  test("one-shot, default format: psql logs in as app_ro with tlscert, key and teleport-database-ca.crt", () => {
    const dest = join(work, "db-default");
    ok(
      start(
        config(`
- type: database
  destination: {type: directory, path: ${dest}}
  service: pg
  database: app
  username: app_ro
`),
      ),
    );
    expect(visible(dest)).toEqual([
      "identity",
      "key",
      "teleport-database-ca.crt",
      "teleport-host-ca.crt",
      "teleport-user-ca.crt",
      "tlscert",
    ]);
    const subject = run([
      "openssl",
      "x509",
      "-in",
      join(dest, "tlscert"),
      "-noout",
      "-subject",
      "-issuer",
    ]).stdout;
    expect(subject).toContain("CN = app_ro");
    expect(subject).toContain("OU = db_client");
    const r = psql(join(dest, "teleport-database-ca.crt"), join(dest, "tlscert"), join(dest, "key"));
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toBe("app_ro");
    // The certificate is app_ro's: PostgreSQL refuses it for another user.
    const other = psql(
      join(dest, "teleport-database-ca.crt"),
      join(dest, "tlscert"),
      join(dest, "key"),
      "postgres",
    );
    expect(other.code).not.toBe(0);
    expect(other.stderr).toContain('certificate authentication failed for user "postgres"');
  });

  test("a username the bot's roles do not allow: tauth's one line, exit 1, nothing written", () => {
    const dest = join(work, "db-refused");
    const r = start(
      config(`
- type: database
  destination: {type: directory, path: ${dest}}
  service: pg
  username: postgres
`),
    );
    expect(outputFailed(r, "database-1")).toMatch(
      /: bot "dbapp\d+": role does not allow database user "postgres" on db "pg"; allowed: app_ro$/,
    );
    expect(existsSync(join(dest, "tlscert"))).toBe(false);
    expect(existsSync(join(dest, "key"))).toBe(false);
    const unknown = start(
      config(`
- type: database
  destination: {type: directory, path: ${join(work, "db-unknown")}}
  service: nope
  username: app_ro
`),
    );
    expect(outputFailed(unknown, "database-1")).toContain('db "nope" not found');
  });

  test("daemon, format tls: tls.crt/tls.key/tls.cas log in; after SIGHUP a new certificate still does", async () => {
    const dest = join(work, "db-tls");
    const bot = scope.proc(
      startProcess([
        tbotBin,
        "start",
        "-c",
        config(
          `
- type: database
  destination: {type: directory, path: ${dest}}
  service: pg
  database: app
  username: app_ro
  format: tls
`,
          { oneshot: false },
        ),
      ]),
    );
    try {
      await until(() => existsSync(join(dest, "tls.cas")), "the first write", 20_000);
      expect(visible(dest)).toEqual(
        [
          "identity",
          "key",
          "teleport-database-ca.crt",
          "teleport-host-ca.crt",
          "teleport-user-ca.crt",
          "tls.cas",
          "tls.crt",
          "tls.key",
          "tlscert",
        ].sort(),
      );
      const tls = (f: string) => join(dest, f);
      const first = psql(tls("tls.cas"), tls("tls.crt"), tls("tls.key"));
      expect(first.stderr).toBe("");
      expect(first.stdout.trim()).toBe("app_ro");
      const gen = generation(dest, "database");
      const before = serial(tls("tls.crt"));
      const keyBefore = readFileSync(tls("tls.key"), "utf8");
      process.kill(bot.pid, "SIGHUP");
      await until(() => generation(dest, "database") !== gen, "a renewal after SIGHUP", 20_000);
      expect(serial(tls("tls.crt"))).not.toBe(before);
      expect(readFileSync(tls("tls.key"), "utf8")).not.toBe(keyBefore); // a fresh key each run
      const again = psql(tls("tls.cas"), tls("tls.crt"), tls("tls.key"));
      expect(again.stderr).toBe("");
      expect(again.stdout.trim()).toBe("app_ro");
    } finally {
      expect(await bot.stop("SIGTERM")).toBe(0);
    }
  }, 60_000);

  test("tbot start database --service --database --username --format tls (one-shot) writes files psql logs in with", () => {
    const dest = join(work, "db-flags");
    ok(
      run([
        tbotBin,
        "start",
        "database",
        ...startFlags(),
        ...[
          "--destination",
          dest,
          "--service",
          "pg",
          "--database",
          "app",
          "--username",
          "app_ro",
          "--format",
          "tls",
        ],
      ]),
    );
    const r = psql(join(dest, "tls.cas"), join(dest, "tls.crt"), join(dest, "tls.key"));
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toBe("app_ro");
    const refused = run([
      tbotBin,
      "start",
      "database",
      ...startFlags(),
      ...[
        "--destination",
        join(work, "db-flags-bad"),
        "--service",
        "pg",
        "--username",
        "app_ro",
        "--database",
        "postgres",
      ],
    ]);
    expect(outputFailed(refused, "database-1")).toContain(
      'role does not allow database name "postgres" for user "app_ro" on db "pg"; allowed: app',
    );
  });

  test("mongo and cockroach formats write their files, signed by the db_client CA", () => {
    const caFile = join(work, "db-client-ca.crt");
    for (const format of ["mongo", "cockroach"]) {
      const dest = join(work, `db-${format}`);
      ok(
        start(
          config(`
- type: database
  destination: {type: directory, path: ${dest}}
  service: pg
  username: app_ro
  format: ${format}
`),
        ),
      );
      const files = visible(dest);
      const own =
        format === "mongo"
          ? ["mongo.cas", "mongo.crt"]
          : ["ca.crt", "client.app_ro.crt", "client.app_ro.key", "node.crt", "node.key"];
      for (const f of own) expect(files).toContain(f);
      const cert = join(dest, format === "mongo" ? "mongo.crt" : "node.crt");
      expect(run(["openssl", "verify", "-CAfile", caFile, cert]).stdout).toContain(": OK");
      if (format === "mongo")
        expect(readFileSync(cert, "utf8")).toMatch(/END CERTIFICATE-----\n-----BEGIN EC PRIVATE KEY/);
      // Each format's CA file verifies the database (the db CA, as teleport-database-ca.crt).
      const cas = readFileSync(join(dest, format === "mongo" ? "mongo.cas" : "ca.crt"), "utf8");
      expect(cas).toBe(readFileSync(join(dest, "teleport-database-ca.crt"), "utf8"));
    }
    // With the cockroach files psql logs in too (same certificate, other names).
    const dest = join(work, "db-cockroach");
    const r = psql(join(dest, "ca.crt"), join(dest, "client.app_ro.crt"), join(dest, "client.app_ro.key"));
    expect(r.stdout.trim()).toBe("app_ro");
  }, 60_000);

  test.if(canActAsOtherUser())(
    "readers: psql run as the reader logs in with the key behind the POSIX ACL",
    () => {
      const name = "tbot-dbapp-reader";
      if (run(["getent", "passwd", name]).code !== 0)
        run(["useradd", "--system", "--no-create-home", "--user-group", "--shell", "/bin/sh", name]);
      try {
        const uid = Number(run(["id", "-u", name]).stdout.trim());
        const gid = Number(run(["id", "-g", name]).stdout.trim());
        const dest = join(work, "db-reader");
        ok(
          start(
            config(`
- type: database
  destination:
    type: directory
    path: ${dest}
    readers: [{user: ${name}}]
  service: pg
  username: app_ro
  format: tls
`),
          ),
        );
        expect(statSync(join(dest, "tls.key")).uid).toBe(0);
        const as = run(
          [
            "setpriv",
            `--reuid=${uid}`,
            `--regid=${gid}`,
            "--clear-groups",
            "--",
            ...psqlArgs(join(dest, "tls.cas"), join(dest, "tls.crt"), join(dest, "tls.key")),
          ],
          { env: { HOME: "/", USER: name, LOGNAME: name } },
        );
        expect(as.stderr).toBe("");
        expect(as.stdout.trim()).toBe("app_ro");
      } finally {
        run(["userdel", name]);
      }
    },
    60_000,
  );
});

describe.if(nginxAvailable())("application output with a real nginx (ssl_verify_client on)", () => {
  let url: string;

  beforeAll(async () => {
    url = (await startAppNginx(auth, work)).url;
  }, 60_000);

  const curl = (cacert: string, extra: string[]) =>
    run(["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", "--cacert", cacert, ...extra, url]);

  test("one-shot: curl --cert tlscert --key key gets 200; without them 400", () => {
    const dest = join(work, "app-default");
    ok(
      start(
        config(`
- type: application
  destination: {type: directory, path: ${dest}}
  app_name: grafana
`),
      ),
    );
    expect(visible(dest)).toEqual([
      "identity",
      "key",
      "teleport-app-ca.crt",
      "teleport-database-ca.crt",
      "teleport-host-ca.crt",
      "teleport-user-ca.crt",
      "tlscert",
    ]);
    const cacert = join(dest, "teleport-app-ca.crt");
    const yes = curl(cacert, ["--cert", join(dest, "tlscert"), "--key", join(dest, "key")]);
    expect(yes.stdout).toMatch(/^ok SUCCESS .*OU=grafana.*\n200$/s);
    expect(curl(cacert, []).stdout).toMatch(/\n400$/);
    // The same service verified with the CA tctl auth sign wrote next to its certificate.
    expect(
      curl(join(work, "nginx.cas"), ["--cert", join(dest, "tlscert"), "--key", join(dest, "key")]).stdout,
    ).toMatch(/\n200$/);
  });

  test("tbot start application --app --specific-tls-naming: the tls.* files get 200", () => {
    const dest = join(work, "app-specific");
    ok(
      run([
        tbotBin,
        "start",
        "application",
        ...startFlags(),
        ...["--destination", dest, "--app", "grafana", "--specific-tls-naming"],
      ]),
    );
    for (const f of ["tls.crt", "tls.key", "tls.cas"]) expect(existsSync(join(dest, f))).toBe(true);
    const yes = curl(join(dest, "tls.cas"), [
      "--cert",
      join(dest, "tls.crt"),
      "--key",
      join(dest, "tls.key"),
    ]);
    expect(yes.stdout).toMatch(/\n200$/);
    expect(curl(join(dest, "tls.cas"), []).stdout).toMatch(/\n400$/);
  });

  test("an app no role allows: tauth's one line, exit 1, nothing written", () => {
    const dest = join(work, "app-refused");
    const r = start(
      config(`
- type: application
  destination: {type: directory, path: ${dest}}
  app_name: internal
`),
    );
    expect(outputFailed(r, "application-1")).toContain('no role allows app "internal" (labels {env: dev})');
    expect(existsSync(join(dest, "tlscert"))).toBe(false);
  });
});

describe("configure", () => {
  test("tbot configure database / application print the outputs the flags give", () => {
    const common = [
      "--auth-server",
      auth.addr,
      "--join-method",
      "token",
      "--token",
      "x",
      "--ca-pin",
      auth.pin,
    ];
    const db = run([
      tbotBin,
      "configure",
      "database",
      ...common,
      ...["--destination", "/opt/db", "--service", "pg", "--username", "app_ro", "--format", "mongo"],
    ]);
    expect(db.code).toBe(0);
    expect(db.stdout).toContain("  - type: database\n");
    expect(db.stdout).toContain("    service: pg\n    username: app_ro\n    format: mongo\n");
    const app = run([
      tbotBin,
      "configure",
      "application",
      ...common,
      ...["--destination", "/opt/app", "--app", "grafana", "--specific-tls-naming"],
    ]);
    expect(app.code).toBe(0);
    expect(app.stdout).toContain("    app_name: grafana\n    specific_tls_naming: true\n");
    const bad = run([
      tbotBin,
      "configure",
      "database",
      ...common,
      "--destination",
      "/o",
      "--service",
      "pg",
      "--username",
      "u",
      "--format",
      "pem",
    ]);
    expect(expectOneErrorLine(bad)).toContain(
      'format must be one of "" (default), "tls", "mongo", "cockroach", got "pem"',
    );
  });
});
