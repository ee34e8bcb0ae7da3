// Flags of `tbot keypair create` → options. Storage comes from --storage (URI), --data-dir,
// the config file's storage (-c), or the default /var/lib/teleport/bot.

import { resolve } from "node:path";
import {
  defaultConfig,
  directoryDestination,
  loadConfigFile,
  parseDestinationUri,
} from "../agent/config/index.ts";
import type { KeypairCreateOptions } from "../agent/keypair-create.ts";
import { UserError } from "../util/errors.ts";
import type { TbotArgs } from "./tbot-args.ts";

export async function keypairCreateOptions(
  args: TbotArgs,
  env: Record<string, string | undefined>,
): Promise<KeypairCreateOptions> {
  const f = args.flags;
  const str = (k: string) => (typeof f[k] === "string" ? (f[k] as string) : undefined);
  const format = str("format") ?? "text";
  if (format !== "text" && format !== "json")
    throw new UserError(`--format must be text or json, got "${format}"`);
  // As `tbot start` has it: two flags for one setting is a mistake, not a precedence rule.
  if (str("storage") !== undefined && str("data-dir") !== undefined)
    throw new UserError("--data-dir and --storage both set the storage; use only one");
  const configPath = str("config") ?? env.TBOT_CONFIG_PATH;
  const fromFile = configPath ? (await loadConfigFile(configPath)).config : undefined;
  let storage = fromFile?.storage ?? defaultConfig().storage;
  const uri = str("storage");
  if (uri) {
    const d = parseDestinationUri(uri, process.cwd());
    if (typeof d === "string") throw new UserError(`--storage: ${d}`);
    storage = d;
  }
  const dataDir = str("data-dir");
  if (dataDir !== undefined) {
    if (dataDir.trim() === "") throw new UserError("--data-dir must not be empty");
    storage = directoryDestination(resolve(dataDir));
  }
  const pins = f["ca-pin"];
  return {
    storage,
    proxyServer: str("proxy-server") ?? fromFile?.proxyServer ?? env.TELEPORT_PROXY,
    authServer: str("auth-server") ?? fromFile?.authServer ?? env.TELEPORT_AUTH_SERVER,
    caPins: Array.isArray(pins)
      ? pins
      : typeof pins === "string"
        ? [pins]
        : (fromFile?.onboarding.caPins ?? []),
    insecure: f.insecure === true || fromFile?.insecure === true,
    overwrite: f.overwrite === true,
    format,
    static: f.static === true,
    ...(str("static-key-path") ? { staticKeyPath: str("static-key-path")! } : {}),
  };
}
