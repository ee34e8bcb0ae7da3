// Entry points that turn a file or a text into a validated config.

import { readFile } from "node:fs/promises";
import { UserError } from "../../util/errors.ts";
import { type DecodedConfig, decodeConfig } from "./decode.ts";
import type { ParsedConfig } from "./types.ts";
import { validateConfig } from "./validate.ts";

/** Decodes and validates a tbot.yaml text; `file` names it in messages. */
export function parseConfig(text: string, file: string): ParsedConfig {
  const d = decodeConfig(text, file);
  const warnings = [...d.warnings, ...validateConfig(d.config, d.places)];
  return { config: d.config, warnings };
}

export async function loadConfigFile(path: string): Promise<ParsedConfig> {
  return parseConfig(await readConfigText(path), path);
}

/** Decodes a file without validating it, for callers that lay flags over it first. */
export async function loadDecodedConfig(path: string): Promise<DecodedConfig> {
  return decodeConfig(await readConfigText(path), path);
}

export async function readConfigText(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT"
        ? "it does not exist; check the path given with -c/--config or TBOT_CONFIG_PATH"
        : code === "EACCES" || code === "EPERM"
          ? "permission denied; run tbot as a user that can read it"
          : code === "EISDIR"
            ? "it is a directory; give the path of the YAML file itself"
            : ((e as Error).message ?? String(e));
    throw new UserError(`cannot read config file "${path}": ${why}`);
  }
}
