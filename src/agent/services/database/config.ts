// The `database` output's settings (reference §1.6): service (the `kind: db` resource),
// database, username and format, read from tbot.yaml, written back by `tbot configure`, or
// built from the flags of `tbot start database`.

import type { MapReader, YNode } from "../../../util/yaml-source.ts";
import type { Destination, OutputConfig } from "../../config/types.ts";
import { nonEmptyText, note, text } from "../../config/yaml-values.ts";
import type { CommonFields, DecodeKit, ValidateKit } from "../descriptor.ts";

/** The reference's formats: "" (the default set only), tls, mongo, cockroach. */
export const databaseFormats = ["", "tls", "mongo", "cockroach"] as const;
export type DatabaseFormat = (typeof databaseFormats)[number];

export type DatabaseService = OutputConfig & {
  type: "database";
  /** YAML `service`: the name of the db resource (tctl get db). Required. */
  service: string;
  /** YAML `database`: the database inside the server, checked against the roles' db_names. */
  database?: string;
  /** YAML `username`: the database user, the certificate's CN. Required. */
  username: string;
  format: DatabaseFormat;
};

export const databaseKeys = ["service", "database", "username", "format"] as const;

/** What tauth accepts for service, database and username (printable, no spaces, ≤ 63). */
const IDENT = /^[\x21-\x7e]{1,63}$/;

export function formatError(v: string): string | undefined {
  if ((databaseFormats as readonly string[]).includes(v)) return undefined;
  return `must be one of "" (default), "tls", "mongo", "cockroach", got "${v}"`;
}

export function decodeDatabase(
  m: MapReader,
  common: CommonFields,
  { key, places }: DecodeKit,
): DatabaseService {
  const s: DatabaseService = { ...common, type: "database", service: "", username: "", format: "" };
  for (const field of ["service", "username", "database"] as const) {
    if (!m.has(field)) continue;
    const n = m.get(field);
    const v = nonEmptyText(n);
    note(places, `${key}.${field}`, n);
    s[field] = v;
  }
  if (m.has("format")) {
    const n: YNode = m.get("format");
    const v = n.isScalar() && (n.node as { value: unknown }).value === null ? "" : text(n);
    const e = formatError(v);
    if (e) n.fail(`${n.path} ${e}`);
    s.format = v as DatabaseFormat;
  }
  return s;
}

export function validateDatabase(s: DatabaseService, { key, label, places }: ValidateKit): void {
  const at = (field: string) => (places.has(`${key}.${field}`) ? `${key}.${field}` : key);
  if (s.service === "")
    throw places.error(key, `${label} (database) needs service: the name of the database (tctl get db)`);
  if (s.username === "")
    throw places.error(
      key,
      `${label} (database) needs username: the database user the certificate is for (its CN)`,
    );
  for (const field of ["service", "username", "database"] as const) {
    const v = s[field];
    if (v !== undefined && !IDENT.test(v))
      throw places.error(
        at(field),
        `${label}.${field} "${v}" must be 1 to 63 printable characters without spaces`,
      );
  }
  const e = formatError(s.format);
  if (e) throw places.error(at("format"), `${label}.format ${e}`);
  // cockroach also writes client.<username>.crt/.key: the name must be a file name.
  if (s.format === "cockroach" && (s.username.includes("/") || s.username.startsWith(".")))
    throw places.error(
      at("username"),
      `${label}.username "${s.username}" cannot name the cockroach client.<username>.crt file`,
    );
}

export function renderDatabase(s: DatabaseService): Record<string, unknown> {
  const out: Record<string, unknown> = { service: s.service };
  if (s.database !== undefined) out.database = s.database;
  out.username = s.username;
  if (s.format !== "") out.format = s.format;
  return out;
}

export const databaseModeFlags = ["service", "database", "username", "format"] as const;

export const databaseModeHelp = `      --service NAME             The database (a db resource: tctl get db) (required)
      --username USER            The database user the certificate is for, its CN (required)
      --database NAME            The database inside the server (checked against db_names)
      --format tls|mongo|cockroach   Also write the format's files (default: the common set)`;

export function databaseFromFlags(
  flags: Readonly<Record<string, string | boolean | string[]>>,
  destination: Destination,
): DatabaseService {
  const str = (k: string) => (typeof flags[k] === "string" ? (flags[k] as string) : undefined);
  const s: DatabaseService = {
    type: "database",
    destination,
    service: str("service") ?? "",
    username: str("username") ?? "",
    format: (str("format") ?? "") as DatabaseFormat,
  };
  const db = str("database");
  if (db !== undefined) s.database = db;
  return s;
}
