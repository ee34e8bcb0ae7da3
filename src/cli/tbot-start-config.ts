// The config `tbot start` and `tbot configure` run with: the file (or none), then environment
// variables, then flags, with the reference's overlay rules (src/agent/config/overlay.ts).

import {
  applyOverrides,
  type BotConfig,
  type DecodedConfig,
  type Destination,
  type DirectoryReader,
  decodeConfig,
  type FromCli,
  loadDecodedConfig,
  parseDestinationUri,
  type ServiceConfig,
  type StartOverrides,
  validateConfig,
} from "../agent/config/index.ts";
import { startModeDescriptor } from "../agent/services/registry.ts";
import { envBool } from "../util/env-bool.ts";
import { UserError } from "../util/errors.ts";
import { type TbotArgs, usageError } from "./tbot-args.ts";

/** A string flag, else an environment variable, tagged with where it came from. */
function pick(args: TbotArgs, flag: string, env?: Record<string, string | undefined>, envName?: string) {
  const v = args.flags[flag];
  if (typeof v === "string") return { value: v, from: `--${flag}` };
  const e = envName ? env?.[envName] : undefined;
  if (e !== undefined && e !== "") return { value: e, from: envName! };
  return undefined;
}

/** The fields of StartOverrides that one string flag (or variable) fills. */
type StringOverride = {
  [K in keyof StartOverrides]-?: StartOverrides[K] extends FromCli<string> | undefined ? K : never;
}[keyof StartOverrides];

/** The config `tbot start` / `tbot configure` runs with: file (or none), then env, then flags. */
export async function buildStartConfig(
  args: TbotArgs,
  env: Record<string, string | undefined>,
): Promise<{ config: BotConfig; warnings: string[] }> {
  if (args.command !== "start" && args.command !== "configure")
    throw new UserError(`buildStartConfig is for start and configure, not "${args.command}"`);
  const mode = args.subcommand ?? "legacy";
  const base = await loadBase(args, env);
  if (base && mode !== "legacy")
    throw usageError(
      `"tbot ${args.command} ${mode}" builds its config from flags and cannot be combined with a config file; ` +
        `use "tbot ${args.command} -c <file>"`,
    );

  const caPins = args.flags["ca-pin"];
  const envDebug = envBool(env, "TBOT_DEBUG");
  const o: StartOverrides = {
    debug: args.flags.debug === true || envDebug.value,
    insecure: args.flags.insecure === true,
    fips: args.flags.fips === true,
    oneshot: args.flags.oneshot === true,
  };
  const strings: [StringOverride, string, string?][] = [
    ["proxyServer", "proxy-server", "TELEPORT_PROXY"],
    ["authServer", "auth-server", "TELEPORT_AUTH_SERVER"],
    ["joinUri", "join-uri"],
    ["token", "token", "TELEPORT_BOT_TOKEN"],
    ["joinMethod", "join-method"],
    ["credentialTtl", "certificate-ttl"],
    ["renewalInterval", "renewal-interval"],
    ["diagAddr", "diag-addr"],
    ["dataDir", "data-dir"],
    ["storage", "storage"],
    ["destinationDir", "destination-dir"],
    ["registrationSecret", "registration-secret"],
    ["registrationSecretPath", "registration-secret-path"],
    ["staticKeyPath", "static-key-path"],
  ];
  for (const [field, flag, envName] of strings) {
    const v = pick(args, flag, env, envName);
    if (v) o[field] = v;
  }
  if (Array.isArray(caPins)) o.caPins = { value: caPins, from: "--ca-pin" };
  const fallback = env.TBOT_REGISTRATION_SECRET;
  if (fallback) o.registrationSecretFallback = { value: fallback, from: "TBOT_REGISTRATION_SECRET" };
  const modeOutput = startModeDescriptor(mode);
  if (modeOutput)
    o.service = modeOutput.noDestination
      ? fileLessModeService(args, mode, modeOutput.startMode!.fromFlags)
      : startModeService(args, mode, modeOutput.startMode!.fromFlags);

  const merged = applyOverrides(base, o);
  const warnings = [
    ...(envDebug.warning ? [envDebug.warning] : []),
    ...merged.warnings,
    ...validateConfig(merged.config, merged.places),
  ];
  return { config: merged.config, warnings };
}

async function loadBase(
  args: TbotArgs,
  env: Record<string, string | undefined>,
): Promise<DecodedConfig | undefined> {
  // Flags beat the environment as a pair, so a stray TBOT_CONFIG cannot clash with -c.
  const fromFlags = "config" in args.flags || "config-string" in args.flags;
  const path = fromFlags ? pick(args, "config") : pick(args, "config", env, "TBOT_CONFIG_PATH");
  const inline = fromFlags ? pick(args, "config-string") : pick(args, "config-string", env, "TBOT_CONFIG");
  if (path && inline) throw usageError(`${path.from} and ${inline.from} both give a config; use only one`);
  if (path) return loadDecodedConfig(path.value);
  if (!inline) return undefined;
  const b64 = inline.value.replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 === 1)
    throw new UserError(
      `${inline.from}: the value is not base64; encode the YAML with "base64 -w0 tbot.yaml"`,
    );
  return decodeConfig(Buffer.from(b64, "base64").toString("utf8"), inline.from);
}

/** The one service of a mode that writes no files (workload-identity-api): its own flags only. */
function fileLessModeService(
  args: TbotArgs,
  mode: string,
  fromFlags: (flags: TbotArgs["flags"], destination: Destination) => ServiceConfig,
): ServiceConfig {
  for (const f of ["destination", "reader-user", "reader-group"])
    if (f in args.flags) throw usageError(`"tbot ${args.command} ${mode}" writes no files: remove --${f}`);
  return fromFlags(args.flags, { type: "memory" });
}

/** The one output of `tbot start <mode>`: --destination (and its readers), then the mode's own flags. */
function startModeService(
  args: TbotArgs,
  mode: string,
  fromFlags: (flags: TbotArgs["flags"], destination: Destination) => ServiceConfig,
): ServiceConfig {
  const dest = pick(args, "destination");
  if (!dest)
    throw usageError(
      `"tbot ${args.command} ${mode}" needs --destination (a path, file:///abs/path or memory://)`,
    );
  // Kept as given, like every path here; `tbot start` resolves it (resolveConfigPaths).
  const destination = parseDestinationUri(dest.value);
  if (typeof destination === "string") throw new UserError(`--destination: ${destination}`);
  const readers: DirectoryReader[] = [
    ...((args.flags["reader-user"] as string[] | undefined) ?? []).map((user) => ({ user })),
    ...((args.flags["reader-group"] as string[] | undefined) ?? []).map((group) => ({ group })),
  ];
  if (readers.length > 0) {
    if (destination.type !== "directory")
      throw usageError("--reader-user/--reader-group need a directory destination");
    destination.readers = readers;
  }
  return fromFlags(args.flags, destination);
}
