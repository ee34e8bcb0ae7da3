// `tauth admin-identity --out FILE [--ttl 12h] [--data-dir DIR | -c tauth.yaml]`: issue one
// more admin identity for tctl, offline, on the auth server's host. It works on tauth's
// storage directly (SQLite in WAL mode takes a second process next to a running tauth), so
// it needs no other admin identity: whoever can read the data directory is never locked out.
// With PostgreSQL (storage in tauth.yaml, or --conn-string) it opens the database as tauth
// does: any replica's host, with its config, can issue one (the CA and the record live in
// the database; the data directory only gets this run's audit.log lines).

import { accessSync, chownSync, constants, existsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { formatDuration, parseDuration } from "../util/duration.ts";
import { ExitCode, UserError } from "../util/errors.ts";
import { loadConfigFile } from "./tauth.ts";
import { resolveStorage } from "./tauth-storage.ts";
import { writeStdout } from "./write-out.ts";

export const tauthAdminIdentityUsage = `Usage: tauth admin-identity --out FILE [--ttl DURATION] [--data-dir DIR | -c FILE]

Issue another admin identity for tctl (tctl --identity FILE). Each has an ID: "tctl get
admin_identities" lists them and "tctl lock --admin ID" revokes one. Runs on the auth
server's host, against its storage (also while tauth runs), as the user that owns the data
directory: SQLite in the data directory, or the PostgreSQL database of tauth.yaml's storage
(any replica's host).

Flags:
      --out FILE           Where to write the identity file (0600; must not exist)
      --ttl DURATION       Lifetime, a Go duration (default 12h; e.g. 720h for 30 days)
      --data-dir DIR       tauth's data directory (default /var/lib/teleport/auth)
  -c, --config FILE        Take data_dir and storage from tauth's YAML config
      --storage-type TYPE  sqlite or postgresql, as for tauth start
      --conn-string URL    PostgreSQL connection string, as for tauth start
`;

const DEFAULT_TTL_MS = 12 * 3600_000;

function writable(path: string): boolean {
  try {
    accessSync(path, constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Files SQLite (and the audit log) may have created as root in a directory tauth runs in as another user. */
function giveBackToOwner(dataDir: string): void {
  if (process.getuid?.() !== 0) return;
  const db = join(dataDir, "tauth.db");
  // On PostgreSQL there is no tauth.db: the data directory's owner is tauth's user.
  const owner = statSync(existsSync(db) ? db : dataDir);
  if (owner.uid === 0) return;
  for (const f of ["tauth.db-wal", "tauth.db-shm", "audit.log"]) {
    const p = join(dataDir, f);
    if (existsSync(p) && statSync(p).uid === 0) chownSync(p, owner.uid, owner.gid);
  }
}

export async function tauthAdminIdentity(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      out: { type: "string" },
      ttl: { type: "string" },
      "data-dir": { type: "string" },
      config: { type: "string", short: "c" },
      "storage-type": { type: "string" },
      "conn-string": { type: "string" },
      debug: { type: "boolean", short: "d" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    writeStdout(tauthAdminIdentityUsage);
    return ExitCode.ok;
  }
  if (!values.out)
    throw new UserError(
      '--out FILE is required; see "tauth admin-identity --help"',
      "bad_parameter",
      ExitCode.usage,
    );
  let ttlMs = DEFAULT_TTL_MS;
  if (values.ttl !== undefined) {
    const v = parseDuration(values.ttl);
    if (typeof v === "string") throw new UserError(`--ttl: ${v}`);
    if (v <= 0) throw new UserError("--ttl must be positive");
    ttlMs = v;
  }
  const file = values.config ? loadConfigFile(values.config) : {};
  const dataDir = values["data-dir"] ?? file.dataDir ?? "/var/lib/teleport/auth";
  const out = resolve(values.out);
  // Checked before anything is issued; the write itself refuses to replace a file too.
  if (existsSync(out)) throw new UserError(`${out} already exists; choose another --out or remove it first`);
  const storage = resolveStorage(
    { type: values["storage-type"], connString: values["conn-string"] },
    file.storage,
  );
  for (const p of [dataDir, join(dataDir, "tauth.db")])
    if (existsSync(p) && !writable(p))
      throw new UserError(`cannot write ${p}: run this as the user tauth runs as (or root)`);
  const { AuthService } = await import("../auth/service.ts");
  const { issueAdminIdentity } = await import("../auth/admin-identity.ts");
  const { describeStorage, openStorage } = await import("../auth/backend/open.ts");
  // PostgreSQL is opened (and checked) as tauth start opens it: one line if it cannot be used.
  const backend = await openStorage(storage);
  const svc = await AuthService.openExisting(dataDir, backend, backend && describeStorage(storage, dataDir));
  let issued: Awaited<ReturnType<typeof issueAdminIdentity>>;
  try {
    issued = await issueAdminIdentity(svc, {
      ttlMs,
      path: out,
      createdBy: "tauth admin-identity",
      exclusive: true,
    });
  } finally {
    await svc.close();
    giveBackToOwner(dataDir);
  }
  writeStdout(
    `Admin identity ${issued.id} written to ${out}, valid for ${formatDuration(ttlMs)} (until ${issued.expires.toISOString()}).\n` +
      `Use it with: tctl --identity ${out} status\n` +
      `Revoke it with: tctl lock --admin ${issued.id}\n`,
  );
  return ExitCode.ok;
}
