// tauth's `storage` setting, in the reference's shape:
//
//   storage:
//     type: postgresql            # or sqlite (the default: DATA_DIR/tauth.db)
//     conn_string: postgresql://tauth@db.example.com:5432/tauth?sslmode=verify-full&sslrootcert=...
//
// and the flags that override it, --storage-type and --conn-string. Mistakes are one line
// (file:line:column for the YAML); a conn string is never echoed, it may hold a password.

import { STORAGE_TYPES, type StorageConfig } from "../auth/backend/open.ts";
import { parseConnString } from "../auth/backend/postgres-conn.ts";
import { isCode, UserError } from "../util/errors.ts";
import type { YNode } from "../util/yaml-source.ts";

type StorageType = (typeof STORAGE_TYPES)[number];

function storageType(v: string, fail: (m: string) => never, what: string): StorageType {
  if ((STORAGE_TYPES as readonly string[]).includes(v)) return v as StorageType;
  const hint = v === "postgres" || v === "pg" ? '; did you mean "postgresql"?' : "";
  return fail(`${what} must be ${STORAGE_TYPES.join(" or ")}, got "${v}"${hint}`);
}

function checkConnString(s: string, fail: (m: string) => never, what: string): void {
  try {
    parseConnString(s, what);
  } catch (e) {
    if (isCode(e, "bad_parameter")) fail((e as Error).message);
    throw e;
  }
}

/** The `storage` map of tauth.yaml. */
export function readStorageNode(node: YNode): StorageConfig {
  const m = node.map().strict(["type", "conn_string"]);
  const connString = m.optStr("conn_string");
  const typeNode = m.get("type");
  const type = m.has("type")
    ? storageType(typeNode.str(), (x) => typeNode.fail(x), "storage.type")
    : "sqlite";
  if (type === "sqlite") {
    if (connString !== undefined)
      m.get("conn_string").fail("storage.conn_string is only for type postgresql");
    return { type };
  }
  if (connString === undefined) node.fail("storage.conn_string is required for type postgresql");
  checkConnString(connString, (x) => m.get("conn_string").fail(x), "storage.conn_string");
  return { type, connString };
}

/** Flags over the file: --conn-string alone means postgresql; the default is SQLite. */
export function resolveStorage(
  flags: { type?: string; connString?: string },
  file: StorageConfig | undefined,
): StorageConfig {
  const fail = (m: string): never => {
    throw new UserError(m);
  };
  if (flags.type === undefined && flags.connString === undefined) return file ?? { type: "sqlite" };
  const type = flags.type !== undefined ? storageType(flags.type, fail, "--storage-type") : "postgresql";
  if (type === "sqlite") {
    if (flags.connString !== undefined) fail("--conn-string is only for --storage-type postgresql");
    return { type };
  }
  const connString = flags.connString ?? (file?.type === "postgresql" ? file.connString : undefined);
  if (connString === undefined)
    return fail("--storage-type postgresql needs --conn-string (or storage.conn_string in the config file)");
  checkConnString(connString, fail, "--conn-string");
  return { type, connString };
}
