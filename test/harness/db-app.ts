// The database and application side of the db/app e2e files: the roles and the `kind: db` and
// `kind: app` resources they create; a real PostgreSQL that takes certificate logins only,
// its server certificate from `tctl auth sign --format=db` and its client CA from `tctl auth
// export --type=db-client`; and a real nginx verifying clients with the cluster's app CA.

import { afterAll } from "bun:test";
import { join } from "node:path";
import { tctlOk, writeText, yamlDocs } from "./extra.ts";
import { startNginx, stopAllNginx } from "./nginx.ts";
import { type PgServer, startPostgres, stopAllPostgres } from "./postgres.ts";

/** Stops every nginx and PostgreSQL started, after this file (call at its top level). */
export function stopServersAfterFile(): void {
  afterAll(async () => {
    await stopAllNginx();
    await stopAllPostgres();
  });
}

import type { TauthHandle } from "./tauth.ts";

/** Role db-ro: databases labelled env=prod, as app_ro, database app. */
export const DB_RO_ROLE = `kind: role
version: v7
metadata: {name: db-ro}
spec:
  allow:
    db_labels: {env: prod}
    db_users: [app_ro]
    db_names: [app]
`;

/** Role app-prod: apps labelled env=prod. */
export const APP_PROD_ROLE = `kind: role
version: v7
metadata: {name: app-prod}
spec:
  allow:
    app_labels: {env: prod}
`;

/** Database pg (postgres, env=prod). */
export const PG_DB = `kind: db
version: v3
metadata:
  name: pg
  labels: {env: prod}
spec:
  protocol: postgres
  uri: 127.0.0.1:5432
`;

/** App grafana (env=prod), with a public address when given. */
export const grafanaApp = (publicAddr?: string): string => `kind: app
version: v3
metadata:
  name: grafana
  labels: {env: prod}
spec:
  uri: https://127.0.0.1:3000
${publicAddr ? `  public_addr: ${publicAddr}\n` : ""}`;

/** App internal (env=dev): no role above allows it. */
export const INTERNAL_APP = `kind: app
version: v3
metadata:
  name: internal
  labels: {env: dev}
spec:
  uri: https://127.0.0.1:3001
`;

/** Roles db-ro and app-prod, db pg, apps grafana and internal. */
export const dbAppResources = (o: { grafanaPublicAddr?: string } = {}): string =>
  yamlDocs(DB_RO_ROLE, APP_PROD_ROLE, PG_DB, grafanaApp(o.grafanaPublicAddr), INTERNAL_APP);

/**
 * `tctl auth sign --format=db` for localhost and 127.0.0.1 (`prefix`.crt, .key, .cas; 2190h)
 * and `tctl auth export --type=db-client` written to `caFile`: what the sign printed.
 */
export function signDbServer(h: TauthHandle, o: { prefix: string; caFile: string }): string {
  const out = tctlOk(h, [
    "auth",
    "sign",
    "--format=db",
    "--host=localhost,127.0.0.1",
    `--out=${o.prefix}`,
    "--ttl=2190h",
  ]);
  writeText(o.caFile, tctlOk(h, ["auth", "export", "--type=db-client"]));
  return out;
}

/**
 * A PostgreSQL with the files of signDbServer (TLS, `cert clientcert=verify-full` logins only),
 * role app_ro and its database app.
 */
export async function startDbPostgres(o: { prefix: string; caFile: string }): Promise<PgServer> {
  const pg = await startPostgres({
    serverTls: { certFile: `${o.prefix}.crt`, keyFile: `${o.prefix}.key`, caFile: o.caFile },
  });
  pg.createRole("app_ro", "unused-password-x1");
  pg.createDatabase("app", "app_ro");
  return pg;
}

/**
 * An nginx (ssl_verify_client on) with a certificate from `tctl auth sign --format=app`
 * (`work`/nginx.crt, .key, .cas) and `tctl auth export --type=app` (`work`/app-ca.crt) as its
 * client CA: its URL ("https://…/") and those paths.
 */
export async function startAppNginx(
  h: TauthHandle,
  work: string,
): Promise<{ url: string; prefix: string; appCa: string }> {
  const prefix = join(work, "nginx");
  tctlOk(h, ["auth", "sign", "--format=app", "--host=localhost,127.0.0.1", `--out=${prefix}`, "--ttl=24h"]);
  const appCa = writeText(join(work, "app-ca.crt"), tctlOk(h, ["auth", "export", "--type=app"]));
  const nginx = await startNginx({
    certFile: `${prefix}.crt`,
    keyFile: `${prefix}.key`,
    clientCaFile: appCa,
  });
  return { url: `${nginx.url}/`, prefix, appCa };
}
