// `tbot migrate -c v1.yaml [-o v2.yaml]` (reference §1.1, §2.2): the persistent form of the
// in-memory v1 → v2 migration that `tbot start` does with a warning. The file is decoded and
// checked as `tbot start` would, then printed by the same renderer as `tbot configure`.

import { chmodSync, writeFileSync } from "node:fs";
import {
  loadDecodedConfig,
  migrateHeader,
  renderConfigYaml,
  v1MigrationWarning,
  validateConfig,
} from "../agent/config/index.ts";
import { ExitCode, UserError } from "../util/errors.ts";
import { type TbotArgs, usageError } from "./tbot-args.ts";

export async function tbotMigrate(args: TbotArgs, env: Record<string, string | undefined>): Promise<number> {
  if (args.flags["config-string"] !== undefined)
    throw usageError('"tbot migrate" converts a file: give it with -c, not --config-string');
  const path = (args.flags.config as string | undefined) ?? (env.TBOT_CONFIG_PATH || undefined);
  if (!path)
    throw usageError('"tbot migrate" needs the v1 config file: tbot migrate -c v1.yaml [-o v2.yaml]');
  const decoded = await loadDecodedConfig(path);
  if (!decoded.warnings.includes(v1MigrationWarning))
    throw new UserError(`${path} is already version v2; there is nothing to migrate`);
  const warnings = [
    ...decoded.warnings.filter((w) => w !== v1MigrationWarning),
    ...validateConfig(decoded.config, decoded.places),
  ];
  for (const w of warnings) process.stderr.write(`WARNING: ${w}\n`);
  const yaml = renderConfigYaml(decoded.config, migrateHeader);
  const out = args.flags.output as string | undefined;
  if (out) {
    writeFileSync(out, yaml, { mode: 0o600 });
    // It may hold the join token, as configure's output may.
    chmodSync(out, 0o600);
    process.stderr.write(`Wrote the version v2 config to ${out}\n`);
  } else process.stdout.write(yaml);
  return ExitCode.ok;
}
