// The compiled executable under test. CI builds it first (scripts/test.ts); a test run
// from a fresh checkout builds it once here.

import { existsSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "bun";

export const root = join(import.meta.dir, "..", "..");
/** TBOT_DIST points the tests at a binary built elsewhere (scripts/build.ts honours it too). */
export const dist = process.env.TBOT_DIST || join(root, "dist");
export const tbotBin = join(dist, "tbot");
export const tctlBin = join(dist, "tctl");
export const tauthBin = join(dist, "tauth");

export function ensureBuilt(): void {
  if (existsSync(tbotBin) && existsSync(tctlBin) && existsSync(tauthBin)) return;
  const r = spawnSync([process.execPath, join(root, "scripts/build.ts")], {
    stdout: "inherit",
    stderr: "inherit",
  });
  if (r.exitCode !== 0) throw new Error("build failed");
}
