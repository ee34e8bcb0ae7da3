// `tauth install systemd`: the tauth unit, with the same dry run / --write / --force rules
// as `tbot install systemd`.

import { isAbsolute, resolve } from "node:path";
import { parseArgs } from "node:util";
import {
  defaultTauthDataDir,
  defaultTauthUnitName,
  renderTauthUnit,
  systemdDefaults,
} from "../agent/systemd-unit.ts";
import { ExitCode, UserError } from "../util/errors.ts";
import { existingConfigPath, installUnit, runningProgramPath } from "./install-systemd.ts";
import { loadConfigFile } from "./tauth.ts";

export const tauthInstallUsage = `Usage: tauth install systemd -c FILE [flags]

Prints the systemd unit that runs "tauth start -c FILE"; --write installs it.
  -c, --config FILE          tauth.yaml the service runs with (must exist)
      --write                Write <systemd-directory>/<name>.service (mode 0644)
      --force                Replace an existing unit whose content differs
      --name NAME            Unit name (default tauth)
      --user USER            The service's user (default teleport)
      --group GROUP          The service's group (default teleport)
      --data-dir DIR         Data directory (default: the config's data_dir, else /var/lib/teleport/auth);
                             given here, it is also passed to tauth start
      --systemd-directory DIR  Where to write the unit (default /etc/systemd/system)
      --tauth-path PATH      tauth path for ExecStart (default: the running tauth; for packaging)
`;

export function tauthInstallSystemd(argv: string[]): number {
  const [sub, ...rest] = argv;
  if (sub !== "systemd")
    throw new UserError(
      `"tauth install" needs a subcommand: systemd; see "tauth help"`,
      "bad_parameter",
      ExitCode.usage,
    );
  const { values: v } = parseArgs({
    args: rest,
    strict: true,
    options: {
      config: { type: "string", short: "c" },
      write: { type: "boolean" },
      force: { type: "boolean" },
      name: { type: "string" },
      user: { type: "string" },
      group: { type: "string" },
      "data-dir": { type: "string" },
      "systemd-directory": { type: "string" },
      "tauth-path": { type: "string" },
      debug: { type: "boolean", short: "d" },
    },
  });
  const configPath = existingConfigPath(v.config, "tauth");
  // Read the config as `tauth start` will: a broken one fails here, not at boot.
  const fromFile = loadConfigFile(configPath).dataDir;
  if (fromFile !== undefined && v["data-dir"] === undefined && !isAbsolute(fromFile))
    throw new UserError(
      `data_dir "${fromFile}" in ${configPath} is relative, and a service starts in /: make it absolute`,
    );
  const flagDir = v["data-dir"] === undefined ? undefined : resolve(v["data-dir"]);
  const name = v.name ?? defaultTauthUnitName;
  return installUnit({
    program: "tauth",
    unitName: name,
    unitText: renderTauthUnit({
      tauthPath: runningProgramPath("tauth", v["tauth-path"]),
      configPath,
      dataDir: flagDir ?? fromFile ?? defaultTauthDataDir,
      // The unit must make writable the directory tauth will use: pass a flag's choice on.
      dataDirOnCommandLine: flagDir !== undefined,
      name,
      user: v.user ?? systemdDefaults.user,
      group: v.group ?? systemdDefaults.group,
    }),
    systemdDirectory: v["systemd-directory"] ?? systemdDefaults.systemdDirectory,
    write: v.write === true,
    force: v.force === true,
  });
}
