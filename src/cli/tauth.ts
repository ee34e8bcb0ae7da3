// tauth: the auth service. `tauth start --data-dir DIR --listen HOST:PORT --cluster-name NAME`
// or `tauth start -c tauth.yaml`; runs in the foreground until SIGINT/SIGTERM.

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { ExitCode, reportError, UserError } from "../util/errors.ts";
import { defaultAuthPort, parseHostPort, requireHostPort } from "../util/host-port.ts";
import { configureLogging } from "../util/log.ts";
import { parseYaml } from "../util/yaml-source.ts";
import { VERSION } from "../version.ts";
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
                           packages_dir, debug)
      --data-dir DIR       State directory (default /var/lib/teleport/auth)
      --listen HOST:PORT   Listen address (default 0.0.0.0:3025)
      --cluster-name NAME  Cluster name (default: the host name; fixed after first start)
      --public-addr ADDR   Extra host name or IP for the server certificate (repeatable)
      --packages-dir DIR   Serve the files in DIR at /packages/ (public), for /scripts/install.sh;
                           neither inside the data directory nor containing it

The first start writes DATA_DIR/admin-identity (365 days) for tctl; later starts keep it
while it is usable and write a new one only if it is missing, expiring, locked or unusable.
  -d, --debug              Debug logging
      --log-format FORMAT  text (default) or json
`;

interface TauthFileConfig {
  dataDir?: string;
  listen?: string;
  clusterName?: string;
  publicAddrs?: string[];
  packagesDir?: string;
  debug?: boolean;
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
    .strict(["version", "data_dir", "listen_addr", "cluster_name", "public_addrs", "packages_dir", "debug"]);
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
    debug: m.optBool("debug"),
  };
}

export async function main(argv: string[]): Promise<number> {
  let debug = false;
  try {
    const [command, ...rest] = argv;
    if (!command || command === "help" || command === "--help" || command === "-h") {
      writeStdout(tauthUsage);
      return command ? ExitCode.ok : ExitCode.usage;
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
    if (command !== "start") throw new UserError(`unknown command "${command}"; see "tauth help"`);
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
    const { startAuth } = await import("../auth/start.ts");
    const auth = await startAuth({
      dataDir: (values["data-dir"] as string | undefined) ?? file.dataDir ?? "/var/lib/teleport/auth",
      listenHost: hp.host,
      listenPort: hp.port,
      clusterName,
      publicAddrs: [...((values["public-addr"] as string[] | undefined) ?? []), ...(file.publicAddrs ?? [])],
      packagesDir: (values["packages-dir"] as string | undefined) ?? file.packagesDir,
    });
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
    await auth.close();
    return ExitCode.ok;
  } catch (e) {
    if (
      (e as { code?: string }).code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" ||
      (e as { code?: string }).code?.startsWith?.("ERR_PARSE_ARGS")
    )
      return reportError(new UserError(`${(e as Error).message}; see "tauth help"`), debug);
    if ((e as { code?: string }).code === "EADDRINUSE")
      return reportError(
        new UserError(`cannot listen: address already in use (${(e as Error).message})`),
        debug,
      );
    return reportError(e, debug);
  }
}
