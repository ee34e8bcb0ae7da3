// tauth: the auth service. `tauth start --data-dir DIR --listen HOST:PORT --cluster-name NAME`
// or `tauth start -c tauth.yaml`; runs in the foreground until SIGINT/SIGTERM.

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { StorageConfig } from "../auth/backend/open.ts";
import type { AuthConfig } from "../auth/start.ts";
import { ExitCode, reportError, UserError } from "../util/errors.ts";
import { defaultAuthPort, parseHostPort, requireHostPort } from "../util/host-port.ts";
import { configureLogging, logger } from "../util/log.ts";
import { parseYaml } from "../util/yaml-source.ts";
import { VERSION } from "../version.ts";
import { readStorageNode, resolveStorage } from "./tauth-storage.ts";
import { unknownFlag, unknownOptionOf } from "./unknown-flag.ts";
import { writeStdout } from "./write-out.ts";

export const tauthUsage = `Usage: tauth <command> [flags]

Commands:
  start            Run the auth service in the foreground
  admin-identity   Issue another admin identity for tctl (--out FILE [--ttl 12h]);
                   see "tauth admin-identity --help"
  install systemd  Print (or --write) a systemd unit that runs "tauth start -c FILE";
                   see "tauth install systemd --help"
  version          Print the version

Flags for start:
  -c, --config FILE        YAML config (data_dir, listen_addr, cluster_name, public_addrs,
                           packages_dir, storage, replica_id, workers, diag_addr, debug)
      --data-dir DIR       State directory (default /var/lib/teleport/auth)
      --listen HOST:PORT   Listen address (default 0.0.0.0:3025)
      --cluster-name NAME  Cluster name (default: the host name; fixed after first start)
      --public-addr ADDR   Extra host name or IP for the server certificate (repeatable)
      --packages-dir DIR   Serve the files in DIR at /packages/ (public), for /scripts/install.sh;
                           neither inside the data directory nor containing it
      --storage-type TYPE  sqlite (default: DATA_DIR/tauth.db) or postgresql (several replicas)
      --conn-string URL    PostgreSQL to use, e.g. postgresql://tauth@db:5432/tauth?sslmode=
                           verify-full&sslrootcert=CA&sslcert=CRT&sslkey=KEY (implies postgresql).
                           A password here shows in ps: prefer client certificates, PGPASSWORD,
                           or storage.conn_string in the config file. Several hosts:
                           postgresql://u@db1:5432,db2:5432/tauth?target_session_attrs=read-write
      --replica-id ID      This replica's name in the X-Tauth-Replica response header and
                           the log (default: host name and PID of the process answering)
      --workers N|auto     Processes serving on the same address and backend (default 1;
                           auto: one per CPU). The join rate and connections-per-IP limits
                           (TAUTH_LIMITS) apply in each worker
      --diag-addr HOST:PORT
                           Serve /metrics (Prometheus), /healthz and /readyz over plain HTTP
                           here (":PORT" is 127.0.0.1:PORT); off unless set. With --workers,
                           the primary serves it with every worker's metrics summed
  -d, --debug              Debug logging
      --log-format FORMAT  text (default) or json

In tauth.yaml:  storage: {type: postgresql, conn_string: "postgresql://..."}

The first start writes DATA_DIR/admin-identity (365 days) for tctl; later starts keep it
while it is usable and write a new one only if it is missing, expiring, locked or unusable.
SIGTERM or SIGINT stops it (every worker); SIGHUP is logged and ignored (restart to apply
config changes). A worker that exits is started again.

Exit codes: 0 success, 1 error, 2 usage error.
`;

/** Every long flag of tauth's commands, for "did you mean" on a misspelt one. */
const tauthFlagNames = [
  ...["config", "data-dir", "listen", "cluster-name", "public-addr", "packages-dir", "debug", "log-format"],
  ...["storage-type", "conn-string", "replica-id", "workers", "diag-addr"],
  ...["out", "ttl", "help", "write", "force", "name", "user", "group", "systemd-directory", "tauth-path"],
];

interface TauthFileConfig {
  dataDir?: string;
  listen?: string;
  clusterName?: string;
  publicAddrs?: string[];
  packagesDir?: string;
  storage?: StorageConfig;
  replicaId?: string;
  workers?: number | "auto";
  diagAddr?: string;
  debug?: boolean;
}

/**
 * The diagnostics address: "host:port", or ":port" for 127.0.0.1 (loopback unless an address
 * is named). Port 0 picks a free port.
 */
function parseDiagAddr(
  text: string,
  what: string,
  fail: (m: string) => never,
): { host: string; port: number } {
  const t = text.trim();
  const r = parseHostPort(t.startsWith(":") ? `127.0.0.1${t}` : t, { allowPortZero: true });
  if (typeof r === "string") fail(`${what}: ${r}`);
  return r;
}

/** A replica ID goes into a response header: a short token, nothing a header cannot carry. */
function checkReplicaId<T extends string | undefined>(id: T, fail: (m: string) => never, what: string): T {
  if (id !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/.test(id))
    fail(`${what} "${id}" must be 1-64 letters, digits, ".", "_", ":" or "-"`);
  return id;
}

const MAX_WORKERS = 256;

/** A worker count: `v` from the command line (text) or tauth.yaml; "auto" is one per CPU. */
function checkWorkers(
  v: string | number | undefined,
  fail: (m: string) => never,
  what: string,
): number | "auto" | undefined {
  if (v === undefined || v === "auto") return v;
  const n = typeof v === "number" ? v : /^\d{1,4}$/.test(v) ? Number(v) : Number.NaN;
  if (!(Number.isInteger(n) && n >= 1 && n <= MAX_WORKERS))
    fail(`${what} must be "auto" or a whole number from 1 to ${MAX_WORKERS}, got "${v}"`);
  return n;
}

export function loadConfigFile(path: string): TauthFileConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new UserError(`cannot read config file ${path}: ${(e as Error).message}`);
  }
  const root = parseYaml(text, path);
  if (root.missing) return {};
  const m = root
    .map()
    .strict([
      "version",
      "data_dir",
      "listen_addr",
      "cluster_name",
      "public_addrs",
      "packages_dir",
      "storage",
      "replica_id",
      "workers",
      "diag_addr",
      "debug",
    ]);
  const v = m.optStr("version");
  if (v !== undefined && v !== "v1")
    m.get("version").fail(`unrecognized config version "${v}" (expected v1)`);
  const listenNode = m.get("listen_addr");
  const listen = m.optStr("listen_addr");
  if (listen !== undefined) {
    const r = parseHostPort(listen, { defaultPort: defaultAuthPort });
    if (typeof r === "string") listenNode.fail(`listen_addr: ${r}`);
  }
  return {
    dataDir: m.optStr("data_dir"),
    listen,
    clusterName: m.optStr("cluster_name"),
    publicAddrs: m.optStrList("public_addrs"),
    packagesDir: m.optStr("packages_dir"),
    storage: m.has("storage") ? readStorageNode(m.get("storage")) : undefined,
    replicaId: checkReplicaId(m.optStr("replica_id"), (x) => m.get("replica_id").fail(x), "replica_id"),
    workers: checkWorkers(m.optStr("workers"), (x) => m.get("workers").fail(x), "workers"),
    diagAddr: m.optStr("diag_addr"),
    debug: m.optBool("debug"),
  };
}

export async function main(argv: string[]): Promise<number> {
  let debug = false;
  try {
    const [command, ...rest] = argv;
    if (!command) {
      // As kingpin (and tbot, tctl) do: no command is a usage error, with the usage, on stderr.
      process.stderr.write(tauthUsage);
      process.stderr.write('ERROR: expected a command; see "tauth help"\n');
      return ExitCode.usage;
    }
    if (command === "help" || command === "--help" || command === "-h") {
      writeStdout(tauthUsage);
      return ExitCode.ok;
    }
    if (command === "version" || command === "--version") {
      writeStdout(`tauth v${VERSION}\n`);
      return ExitCode.ok;
    }
    if (command === "install") {
      if (rest.includes("--help") || rest.includes("-h")) {
        const { tauthInstallUsage } = await import("./tauth-install.ts");
        writeStdout(tauthInstallUsage);
        return ExitCode.ok;
      }
      debug = rest.includes("-d") || rest.includes("--debug");
      const { tauthInstallSystemd } = await import("./tauth-install.ts");
      return tauthInstallSystemd(rest);
    }
    if (command === "admin-identity") {
      debug = rest.includes("-d") || rest.includes("--debug");
      const { tauthAdminIdentity } = await import("./tauth-admin-identity.ts");
      return await tauthAdminIdentity(rest);
    }
    if (command !== "start")
      throw new UserError(`unknown command "${command}"; see "tauth help"`, "bad_parameter", ExitCode.usage);
    if (rest.includes("--help") || rest.includes("-h")) {
      writeStdout(tauthUsage);
      return ExitCode.ok;
    }
    const { values } = parseArgs({
      args: rest,
      strict: true,
      options: {
        config: { type: "string", short: "c" },
        "data-dir": { type: "string" },
        listen: { type: "string" },
        "cluster-name": { type: "string" },
        "public-addr": { type: "string", multiple: true },
        "packages-dir": { type: "string" },
        "storage-type": { type: "string" },
        "conn-string": { type: "string" },
        "replica-id": { type: "string" },
        workers: { type: "string" },
        "diag-addr": { type: "string" },
        debug: { type: "boolean", short: "d" },
        "log-format": { type: "string" },
      },
    }).valueOf() as { values: Record<string, string | boolean | string[] | undefined> };
    const file = values.config ? loadConfigFile(values.config as string) : {};
    debug = Boolean(values.debug ?? file.debug);
    const logFormat = (values["log-format"] as string | undefined) ?? "text";
    if (logFormat !== "text" && logFormat !== "json")
      throw new UserError(`--log-format must be text or json`);
    configureLogging({ debug, format: logFormat });
    const listen = (values.listen as string | undefined) ?? file.listen ?? "0.0.0.0:3025";
    const hp = requireHostPort(listen, "--listen", { defaultPort: defaultAuthPort });
    const { hostname } = await import("node:os");
    const clusterName = (values["cluster-name"] as string | undefined) ?? file.clusterName ?? hostname();
    if (!/^[a-zA-Z0-9][a-zA-Z0-9.-]*$/.test(clusterName))
      throw new UserError(`--cluster-name "${clusterName}" is not a valid DNS-style name`);
    const storage = resolveStorage(
      {
        type: values["storage-type"] as string | undefined,
        connString: values["conn-string"] as string | undefined,
      },
      file.storage,
    );
    const workers = await import("../auth/workers.ts");
    const role = workers.workerRole();
    const asked =
      checkWorkers(
        values.workers as string | undefined,
        (m) => {
          throw new UserError(m, "bad_parameter", ExitCode.usage);
        },
        "--workers",
      ) ??
      file.workers ??
      1;
    const count = asked === "auto" ? workers.cpuWorkers() : asked;
    const diagText = (values["diag-addr"] as string | undefined) ?? file.diagAddr;
    const diag =
      diagText === undefined
        ? undefined
        : parseDiagAddr(diagText, values["diag-addr"] !== undefined ? "--diag-addr" : "diag_addr", (m) => {
            throw new UserError(m, "bad_parameter", ExitCode.usage);
          });
    const cfg: AuthConfig = {
      dataDir: (values["data-dir"] as string | undefined) ?? file.dataDir ?? "/var/lib/teleport/auth",
      listenHost: hp.host,
      listenPort: hp.port,
      clusterName,
      publicAddrs: [...((values["public-addr"] as string[] | undefined) ?? []), ...(file.publicAddrs ?? [])],
      packagesDir: (values["packages-dir"] as string | undefined) ?? file.packagesDir,
      storage,
      replicaId:
        checkReplicaId(
          values["replica-id"] as string | undefined,
          (m) => {
            throw new UserError(m);
          },
          "--replica-id",
        ) ?? file.replicaId,
      ...(diag ? { diag } : {}),
    };
    if (count > 1 && !role) return await workers.runPrimary(cfg, count, ["start", ...rest]);
    const { startAuth } = await import("../auth/start.ts");
    const auth = await startAuth(
      role ? { ...cfg, listenPort: role.port, worker: { index: role.index } } : cfg,
    );
    if (role) workers.workerListening();
    // SIGHUP would end the process (its default action): say it has nothing to reload instead.
    const onHup = () =>
      logger("AUTH").info(
        "SIGHUP received: tauth has nothing to reload and keeps serving; restart it to apply changes",
      );
    process.on("SIGHUP", onHup);
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
    process.off("SIGHUP", onHup);
    await auth.close();
    return ExitCode.ok;
  } catch (e) {
    if ((e as { code?: string }).code?.startsWith?.("ERR_PARSE_ARGS")) {
      // A command-line mistake is a usage error (exit 2), as in tbot and tctl.
      const flag = unknownOptionOf(e as Error & { code?: string });
      const what = flag ? unknownFlag(flag, tauthFlagNames) : (e as Error).message.split("\n")[0];
      return reportError(new UserError(`${what}; see "tauth help"`, "bad_parameter", ExitCode.usage), debug);
    }
    if ((e as { code?: string }).code === "EADDRINUSE")
      return reportError(
        new UserError(`cannot listen: address already in use (${(e as Error).message})`),
        debug,
      );
    return reportError(e, debug);
  }
}
