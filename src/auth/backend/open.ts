// Which backend tauth runs on: `storage` in tauth.yaml or --storage-type/--conn-string.
// SQLite (DATA_DIR/tauth.db) for one node, the default; PostgreSQL for replicas.

import { join } from "node:path";
import type { Backend } from "./backend.ts";
import { parseConnString } from "./postgres-conn.ts";

export type StorageConfig = { type: "sqlite" } | { type: "postgresql"; connString: string };

export const STORAGE_TYPES = ["sqlite", "postgresql"] as const;

/** For logs: the SQLite file, or the PostgreSQL URL without its password. */
export function describeStorage(s: StorageConfig, dataDir: string): string {
  return s.type === "sqlite" ? `sqlite ${join(dataDir, "tauth.db")}` : parseConnString(s.connString).display;
}

/**
 * The backend for `s`. PostgreSQL is opened (connected, checked, migrated) here, so a
 * database tauth cannot use is one line before anything else happens. SQLite is left to
 * AuthService.open (undefined), which creates the data directory first.
 */
export async function openStorage(s: StorageConfig): Promise<Backend | undefined> {
  if (s.type === "sqlite") return undefined;
  const { PostgresBackend } = await import("./postgres.ts");
  return PostgresBackend.open(s.connString);
}
