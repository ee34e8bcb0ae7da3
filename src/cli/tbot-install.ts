// `tbot install systemd` (reference §2.2, §2.5): flags → the tbot unit → dry run or write.

import { existsSync, readFileSync } from "node:fs";
import { dirname, isAbsolute } from "node:path";
import { type BotConfig, decodeConfig } from "../agent/config/index.ts";
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
  refuseRelativePaths(configPath);
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

/**
 * `tbot start` resolves relative paths in its config against the directory it starts in,
 * and a service starts in /: a config that works from a shell would write elsewhere under
 * systemd. Refuse it here, with the first such path, rather than add a WorkingDirectory=.
 */
function refuseRelativePaths(configPath: string): void {
  let config: BotConfig;
  try {
    config = decodeConfig(readFileSync(configPath, "utf8"), configPath).config;
  } catch (e) {
    // The file is read again by `tbot start`; say here what it will say there.
    if (e instanceof UserError) throw e;
    throw new UserError(`cannot read config file ${configPath}: ${(e as Error).message}`);
  }
  const relative = relativePaths(config);
  if (relative.length > 0)
    throw new UserError(
      `${configPath}: ${relative[0]} is a relative path, which a service would resolve against /; ` +
        "use absolute paths in a config for a service",
    );
}

/** "storage.path (./data)"-style names of the config's relative paths, in file order. */
function relativePaths(c: BotConfig): string[] {
  const out: string[] = [];
  const check = (what: string, p: string | undefined) => {
    if (p !== undefined && !isAbsolute(p)) out.push(`${what} "${p}"`);
  };
  if (c.storage.type === "directory") check("storage path", c.storage.path);
  c.services.forEach((s, i) => {
    if (s.destination.type === "directory")
      check(`${s.name ?? `services[${i}]`} destination path`, s.destination.path);
  });
  const o = c.onboarding;
  check("onboarding.ca_path", o.caPath);
  check("onboarding.bound_keypair.registration_secret_path", o.boundKeypair?.registrationSecretPath);
  check("onboarding.bound_keypair.static_private_key_path", o.boundKeypair?.staticPrivateKeyPath);
  // A token is a file only if one of that name exists: a relative one found here would be
  // read as the token itself under systemd.
  const t = o.token;
  if (t?.includes("/") && !isAbsolute(t) && existsSync(t)) out.push(`onboarding.token file "${t}"`);
  return out;
}

/** Whether the system knows `user` (a name or a numeric ID), through NSS as `id` sees it. */
function userExists(user: string): boolean {
  return Bun.spawnSync(["id", "-u", "--", user], { stdout: "ignore", stderr: "ignore" }).exitCode === 0;
}
