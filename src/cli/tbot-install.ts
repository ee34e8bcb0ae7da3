// `tbot install systemd` (reference §2.2, §2.5): flags → the tbot unit → dry run or write.

import { dirname } from "node:path";
import {
  defaultPidFile,
  defaultTbotUnitName,
  renderTbotUnit,
  systemdDefaults,
} from "../agent/systemd-unit.ts";
import { UserError } from "../util/errors.ts";
import { existingConfigPath, installUnit, runningProgramPath } from "./install-systemd.ts";
import type { TbotArgs } from "./tbot-args.ts";

export function tbotInstallSystemd(args: TbotArgs, env: Record<string, string | undefined>): number {
  const f = args.flags;
  const str = (k: string) => f[k] as string | undefined;
  if (str("config-string") !== undefined)
    throw new UserError('"tbot install systemd" needs a config file (-c), not --config-string');
  // -c has the global flag's environment fallback, as with `tbot start`.
  const configPath = existingConfigPath(str("config") ?? (env.TBOT_CONFIG_PATH || undefined), "tbot");
  const name = str("name") ?? defaultTbotUnitName;
  const user = str("user") ?? systemdDefaults.user;
  const pidFile = str("pid-file") ?? defaultPidFile(name);
  const unitText = renderTbotUnit({
    tbotPath: runningProgramPath("tbot", str("tbot-path")),
    configPath,
    name,
    user,
    group: str("group") ?? systemdDefaults.group,
    pidFile,
    anonymousTelemetry: f["anonymous-telemetry"] === true,
  });
  const notes: string[] = [];
  // Named on purpose, so it should exist here; the packaged default is made by the package.
  if (str("user") !== undefined && !userExists(user))
    process.stderr.write(
      `Warning: user "${user}" does not exist on this host; create it (e.g. "useradd --system ${user}") before starting the service\n`,
    );
  // `tbot start --pid-file` fails when it cannot write the file, and only root can write /run.
  if (user !== "root" && user !== "0" && dirname(pidFile) === "/run")
    notes.push(
      `tbot runs as ${user}, which must be able to write ${pidFile}: create it owned by ${user}, ` +
        `or pass --pid-file with a directory ${user} can write.`,
    );
  return installUnit({
    program: "tbot",
    unitName: name,
    unitText,
    systemdDirectory: str("systemd-directory") ?? systemdDefaults.systemdDirectory,
    write: f.write === true,
    force: f.force === true,
    notes,
  });
}

/** Whether the system knows `user` (a name or a numeric ID), through NSS as `id` sees it. */
function userExists(user: string): boolean {
  return Bun.spawnSync(["id", "-u", "--", user], { stdout: "ignore", stderr: "ignore" }).exitCode === 0;
}
