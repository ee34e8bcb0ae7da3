// Database and application certificates on the compiled binary (issue Part 9, points 2–3,
// the auth-service side): roles with db_users/db_names/db_labels and app_labels, `kind: db`
// and `kind: app` registered with tctl create; `tctl auth sign --format=db` and
// `tctl auth export --type=db-client` configure a real PostgreSQL 15 (hostssl … cert
// clientcert=verify-full) which then lets psql in as app_ro with a certificate a joined bot
// got from POST /v1/certs/db, while tauth refuses a user the bot's roles do not allow; and a
// real nginx (ssl_verify_client on, the exported app CA) answers 200 with a certificate from
// POST /v1/certs/app, 400 without one or with any other cluster certificate.
// (The bot's request is made with the product's own protocol client, standing in for the
// tbot `database` and `application` outputs.)

import { beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freshKey } from "../../src/agent/identity/bot-identity.ts";
import type { AppCertsResponse, DatabaseCertsResponse } from "../../src/protocol/messages.ts";
import { paths } from "../../src/protocol/messages.ts";
import {
  dbAppResources,
  signDbServer,
  startAppNginx,
  startDbPostgres,
  stopServersAfterFile,
} from "../harness/db-app.ts";
import { fileScope, tauthAndWorkDir, tctlOk } from "../harness/extra.ts";
import { clusterApi, joinedBot, type RawIdentity, refusal } from "../harness/identity-api.ts";
import { nginxAvailable } from "../harness/nginx.ts";
import { type PgServer, postgresAvailable, psqlPath } from "../harness/postgres.ts";
import { cleanupAfterFile, run, tempDir } from "../harness/proc.ts";
import type { TauthHandle } from "../harness/tauth.ts";

stopServersAfterFile();
cleanupAfterFile();
const scope = fileScope();

let auth: TauthHandle;
let work: string;
let bot: RawIdentity;

const hour = () => new Date(Date.now() + 3600_000).toISOString();

beforeAll(async () => {
  ({ auth, work } = await tauthAndWorkDir(scope, {
    prefix: "dbapp-",
    resources: dbAppResources({ grafanaPublicAddr: "grafana.example.test" }),
  }));
  bot = await joinedBot(auth, "dbbot", "db-ro,app-prod");
}, 60_000);

describe("resources", () => {
  test("tctl get lists apps and databases (text, yaml), one by name; rm removes", () => {
    const apps = tctlOk(auth, ["get", "apps", "--format=text"]);
    expect(apps).toContain("grafana");
    expect(apps).toContain("https://127.0.0.1:3000");
    expect(apps).toContain("grafana.example.test");
    const dbs = tctlOk(auth, ["get", "db", "--format=text"]);
    expect(dbs).toMatch(/pg\s+postgres\s+127\.0\.0\.1:5432\s+env=prod/);
    const one = JSON.parse(tctlOk(auth, ["get", "db/pg", "--format=json"]));
    expect(one).toEqual([
      {
        kind: "db",
        version: "v3",
        metadata: { name: "pg", labels: { env: "prod" } },
        spec: { protocol: "postgres", uri: "127.0.0.1:5432" },
      },
    ]);
    // Re-applying tctl get's YAML is an upsert with -f, refused without.
    writeFileSync(join(work, "again.yaml"), tctlOk(auth, ["get", "app/grafana"]));
    expect(auth.tctl(["create", join(work, "again.yaml")]).stderr).toContain('app "grafana" already exists');
    expect(auth.tctl(["create", "-f", join(work, "again.yaml")]).code).toBe(0);
    writeFileSync(
      join(work, "tmp.yaml"),
      "kind: app\nversion: v3\nmetadata: {name: tmp}\nspec: {uri: http://x}\n",
    );
    tctlOk(auth, ["create", join(work, "tmp.yaml")]);
    expect(tctlOk(auth, ["rm", "app/tmp"])).toContain('app "tmp" has been deleted');
    const gone = auth.tctl(["get", "app/tmp"]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('app "tmp" not found');
    // A mistake in a file is named with its place, before anything is sent.
    writeFileSync(
      join(work, "bad.yaml"),
      "kind: db\nversion: v3\nmetadata: {name: x}\nspec: {protocol: pg, uri: h:1}\n",
    );
    const bad = auth.tctl(["create", join(work, "bad.yaml")]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('bad.yaml:4:18: spec.protocol "pg" is not one of postgres, mysql');
  });
});

describe.if(postgresAvailable())("database certificates with a real PostgreSQL", () => {
  let pg: PgServer;
  let prefix: string;
  let dbClientCa: string;

  test("tctl auth sign --format=db writes PREFIX.crt, .key (0600), .cas; export --type=db-client is .cas", async () => {
    prefix = join(work, "server");
    dbClientCa = join(work, "db-client-ca.crt");
    const out = signDbServer(auth, { prefix, caFile: dbClientCa });
    expect(out).toContain(`Wrote ${prefix}.crt`);
    expect(statSync(`${prefix}.key`).mode & 0o777).toBe(0o600);
    expect(readFileSync(dbClientCa, "utf8")).toBe(readFileSync(`${prefix}.cas`, "utf8"));
    expect(tctlOk(auth, ["auth", "export", "--type=db"])).not.toBe(readFileSync(dbClientCa, "utf8"));
    const sub = run([
      "openssl",
      "x509",
      "-in",
      `${prefix}.crt`,
      "-noout",
      "-ext",
      "subjectAltName,extendedKeyUsage",
    ]);
    expect(sub.stdout).toContain("DNS:localhost");
    expect(sub.stdout).toContain("IP Address:127.0.0.1");
    expect(sub.stdout).toContain("TLS Web Server Authentication");
    pg = await startDbPostgres({ prefix, caFile: dbClientCa });
  }, 60_000);

  async function dbCert(username: string, database?: string) {
    const key = await freshKey();
    const r = await clusterApi(auth, bot).post<DatabaseCertsResponse>(paths.dbCerts, {
      service: "pg",
      username,
      ...(database ? { database } : {}),
      tls_public_key: key.publicKeys.tls_public_key,
      expires: hour(),
    });
    const dir = tempDir("dbout-");
    writeFileSync(join(dir, "tls.crt"), r.tls_cert);
    writeFileSync(join(dir, "tls.key"), key.keyPem, { mode: 0o600 });
    writeFileSync(join(dir, "tls.cas"), r.tls_ca_certs.join(""));
    return { dir, r };
  }

  const psql = (dir: string, user: string, o: { cert?: boolean; dbname?: string } = {}) =>
    run([
      psqlPath(),
      "-X",
      "-At",
      "-c",
      "SELECT current_user",
      [
        "sslmode=verify-full",
        `sslrootcert=${join(dir, "tls.cas")}`,
        ...(o.cert === false ? [] : [`sslcert=${join(dir, "tls.crt")}`, `sslkey=${join(dir, "tls.key")}`]),
        "host=127.0.0.1",
        `port=${pg.port}`,
        `user=${user}`,
        `dbname=${o.dbname ?? "app"}`,
      ].join(" "),
    ]);

  test("psql logs in as app_ro with the certificate the bot got (CN = app_ro, db_client CA)", async () => {
    const { dir, r } = await dbCert("app_ro", "app");
    expect(r.db).toEqual({ name: "pg", protocol: "postgres", uri: "127.0.0.1:5432" });
    expect(r.client_ca_certs).toEqual([readFileSync(dbClientCa, "utf8")]);
    const subject = run([
      "openssl",
      "x509",
      "-in",
      join(dir, "tls.crt"),
      "-noout",
      "-subject",
      "-issuer",
    ]).stdout;
    expect(subject).toContain("CN = app_ro");
    expect(subject).toContain("OU = pg");
    expect(subject).toContain("OU = db_client");
    const ok = psql(dir, "app_ro");
    expect(ok.stderr).toBe("");
    expect(ok.stdout.trim()).toBe("app_ro");
    // The certificate is app_ro's only: PostgreSQL refuses it for another user.
    const other = psql(dir, "postgres");
    expect(other.code).not.toBe(0);
    expect(other.stderr).toContain('certificate authentication failed for user "postgres"');
    // No client certificate: refused by pg_hba (cert), before any password.
    const none = psql(dir, "app_ro", { cert: false });
    expect(none.code).not.toBe(0);
    const audit = auth.auditLog().filter((e) => e.event === "cert.create" && e.cert_type === "db");
    expect(audit.at(-1)).toMatchObject({ bot: "dbbot", db: "pg", db_user: "app_ro", db_name: "app" });
  });

  test("a user, a database name or a db the roles do not allow is refused clearly by tauth", async () => {
    const user = await refusal(dbCert("postgres"));
    expect(user.code).toBe("access_denied");
    expect(user.message).toBe(
      'bot "dbbot": role does not allow database user "postgres" on db "pg"; allowed: app_ro',
    );
    const name = await refusal(dbCert("app_ro", "postgres"));
    expect(name.message).toContain(
      'role does not allow database name "postgres" for user "app_ro" on db "pg"; allowed: app',
    );
    const missing = await refusal(
      clusterApi(auth, bot).post(paths.dbCerts, {
        service: "nope",
        username: "app_ro",
        tls_public_key: (await freshKey()).publicKeys.tls_public_key,
        expires: hour(),
      }),
    );
    expect(missing.code).toBe("not_found");
    expect(missing.message).toContain('db "nope" not found');
    const denied = auth.auditLog().filter((e) => e.event === "cert.create.denied");
    expect(denied.some((e) => e.db_user === "postgres")).toBe(true);
  });
});

describe.if(nginxAvailable())("application certificates with a real nginx", () => {
  let url: string;
  let cas: string;

  test("nginx (ssl_verify_client on, app CA): 200 with the app certificate, 400 without or with another", async () => {
    const nginx = await startAppNginx(auth, work);
    expect(readFileSync(nginx.appCa, "utf8")).toBe(readFileSync(`${nginx.prefix}.cas`, "utf8"));
    url = nginx.url;

    const key = await freshKey();
    const r = await clusterApi(auth, bot).post<AppCertsResponse>(paths.appCerts, {
      app_name: "grafana",
      tls_public_key: key.publicKeys.tls_public_key,
      expires: hour(),
    });
    expect(r.app).toEqual({
      name: "grafana",
      uri: "https://127.0.0.1:3000",
      public_addr: "grafana.example.test",
    });
    const dir = tempDir("appout-");
    writeFileSync(join(dir, "tls.crt"), r.tls_cert);
    writeFileSync(join(dir, "tls.key"), key.keyPem, { mode: 0o600 });
    cas = join(dir, "tls.cas");
    writeFileSync(cas, r.tls_ca_certs.join(""));
    const curl = (extra: string[]) =>
      run(["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", "--cacert", cas, ...extra, url]);
    const ok = curl(["--cert", join(dir, "tls.crt"), "--key", join(dir, "tls.key")]);
    expect(ok.stdout).toMatch(/^ok SUCCESS .*OU=grafana.*\n200$/s);
    expect(ok.stdout).toContain("CN=bot-dbbot");
    expect(ok.stdout).toContain("O=db-ro");
    expect(curl([]).stdout).toMatch(/\n400$/);
    // The bot's own identity (user CA) is no application certificate.
    writeFileSync(join(dir, "id.crt"), bot.certPem);
    writeFileSync(join(dir, "id.key"), bot.keyPem, { mode: 0o600 });
    expect(curl(["--cert", join(dir, "id.crt"), "--key", join(dir, "id.key")]).stdout).toMatch(/\n400$/);
    const audit = auth.auditLog().filter((e) => e.event === "cert.create" && e.cert_type === "app");
    expect(audit.at(-1)).toMatchObject({ bot: "dbbot", app: "grafana" });
  }, 60_000);

  test("an app whose labels no role allows is refused", async () => {
    const r = await refusal(
      clusterApi(auth, bot).post(paths.appCerts, {
        app_name: "internal",
        tls_public_key: (await freshKey()).publicKeys.tls_public_key,
        expires: hour(),
      }),
    );
    expect(r.code).toBe("access_denied");
    expect(r.message).toBe(
      'bot "dbbot": no role allows app "internal" (labels {env: dev}): add app_labels that match it to one of the bot\'s roles',
    );
  });
});

describe("locks", () => {
  test("a locked bot gets neither", async () => {
    tctlOk(auth, ["lock", "--bot", "dbbot", "--message", "e2e"]);
    const r = await refusal(
      clusterApi(auth, bot).post(paths.appCerts, {
        app_name: "grafana",
        tls_public_key: (await freshKey()).publicKeys.tls_public_key,
        expires: hour(),
      }),
    );
    expect(r.code).toBe("access_denied");
    expect(r.message).toContain("lock");
  });
});
