// kind: app and kind: db, version v3 (the reference's application and database resources):
// what a bot's `application` and `database` outputs name, and what roles select by label.
// We model the fields certificates depend on (name, labels, app spec.uri/public_addr, db
// spec.protocol/uri); Teleport's other spec fields load and are kept untouched.

import type { Cursor, Fields } from "../../resources/cursor.ts";
import { readMetadata, readVersion } from "../../resources/metadata.ts";
import type { AppResource, DatabaseResource } from "../../resources/types.ts";

const dnsLabelish = /^[a-z]([a-z0-9-]*[a-z0-9])?$/;

/** Teleport's rule for app and database names: a DNS label (lowercase, digits, "-"), ≤ 63. */
export function appNameProblem(name: string): string | undefined {
  if (name.length <= 63 && dnsLabelish.test(name)) return undefined;
  return `app name "${name}" is invalid: use at most 63 lowercase letters, digits and "-", starting with a letter (a DNS label)`;
}

export function dbNameProblem(name: string): string | undefined {
  if (name.length <= 63 && dnsLabelish.test(name)) return undefined;
  return `database name "${name}" is invalid: use at most 63 lowercase letters, digits and "-", starting with a letter (a DNS label)`;
}

/** Protocols of the reference's database resource. */
export const dbProtocols = [
  "postgres",
  "mysql",
  "mongodb",
  "cockroachdb",
  "redis",
  "sqlserver",
  "snowflake",
  "cassandra",
  "elasticsearch",
  "opensearch",
  "dynamodb",
  "clickhouse",
  "clickhouse-http",
  "oracle",
  "spanner",
] as const;

const appSpecKeys = [
  "uri",
  "public_addr",
  "insecure_skip_verify",
  "rewrite",
  "dynamic_labels",
  "cloud",
  "aws",
  "required_app_names",
  "cors",
  "use_any_proxy_public_addr",
  "integration",
  "tcp_ports",
  "user_groups",
  "identity_center",
  "mcp",
] as const;

const dbSpecKeys = [
  "protocol",
  "uri",
  "ca_cert",
  "tls",
  "dynamic_labels",
  "admin_user",
  "aws",
  "gcp",
  "azure",
  "ad",
  "mysql",
  "mongo",
  "oracle",
] as const;

export function readApp(top: Fields): AppResource {
  const version = readVersion(top, "app", ["v3"]) as "v3";
  const metadata = readMetadata(top, appNameProblem);
  const specNode = top.get("spec");
  if (specNode.missing) top.get("kind").fail("spec.uri is required");
  const spec = specNode.map().strict(appSpecKeys);
  const app: AppResource = { kind: "app", version, metadata, spec: { uri: requiredUri(spec, "spec.uri") } };
  const publicAddr = spec.optStr("public_addr");
  if (publicAddr) app.spec.public_addr = publicAddr;
  keepOthers(spec, app.spec, ["uri", "public_addr"]);
  return app;
}

export function readDatabase(top: Fields): DatabaseResource {
  const version = readVersion(top, "db", ["v3"]) as "v3";
  const metadata = readMetadata(top, dbNameProblem);
  const specNode = top.get("spec");
  if (specNode.missing) top.get("kind").fail("spec.protocol and spec.uri are required");
  const spec = specNode.map().strict(dbSpecKeys);
  const protocol = spec.optStr("protocol") ?? "";
  if (!protocol) (spec.has("protocol") ? spec.get("protocol") : specNode).fail("spec.protocol is required");
  if (!(dbProtocols as readonly string[]).includes(protocol))
    spec.get("protocol").fail(`spec.protocol "${protocol}" is not one of ${dbProtocols.join(", ")}`);
  const db: DatabaseResource = {
    kind: "db",
    version,
    metadata,
    spec: { protocol, uri: requiredUri(spec, "spec.uri") },
  };
  keepOthers(spec, db.spec, ["protocol", "uri"]);
  return db;
}

function requiredUri(spec: Fields, path: string): string {
  const uri = spec.optStr("uri") ?? "";
  if (!uri) spec.get("uri").fail(`${path} is required`);
  if (/\s/.test(uri)) spec.get("uri").fail(`${path} must not contain spaces, got "${uri}"`);
  return uri;
}

function keepOthers(spec: Fields, out: Record<string, unknown>, modelled: string[]): void {
  for (const key of spec.keys()) {
    if (modelled.includes(key) || !spec.has(key)) continue;
    const value: Cursor = spec.get(key);
    out[key] = value.toJS();
  }
}
