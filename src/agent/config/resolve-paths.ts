// Relative paths in a config (the reference's own guides use `--destination-dir=./tbot-user`,
// `--data-dir=./tbot-data`, `path: ./tbot-user`) mean "relative to where tbot was started".
// The config layer keeps them as written, so that `tbot configure` prints them back as given;
// `tbot start` calls this once, before anything opens a file, so that the storage checks,
// the messages and the ssh_config tbot writes (which must hold absolute paths) all see the
// same absolute path.
//
// The token is left alone: it is a token value unless a file of that name exists, which the
// join code looks up lazily (reference §1.1); tbot never changes directory, so a relative
// token file is still found against the directory tbot was started in.

import { resolve } from "node:path";
import { setOnboardingBlocks } from "./method-settings.ts";
import type { BotConfig, Destination } from "./types.ts";

/** A copy of `c` with every relative path made absolute against `cwd`. */
export function resolveConfigPaths(c: BotConfig, cwd: string): BotConfig {
  const out = structuredClone(c);
  const abs = (p: string) => resolve(cwd, p);
  resolveDestination(out.storage, abs);
  for (const s of out.services) resolveDestination(s.destination, abs);
  const o = out.onboarding;
  if (o.caPath !== undefined) o.caPath = abs(o.caPath);
  for (const { block, settings } of setOnboardingBlocks(o)) block.resolvePaths(settings, abs);
  return out;
}

function resolveDestination(d: Destination, abs: (p: string) => string): void {
  if (d.type === "directory") d.path = abs(d.path);
}
