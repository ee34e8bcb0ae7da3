// Where the shared conformance vectors are: ../shared/vectors from the repository root (see
// its README.md), or TEST_VECTORS. CI always has them, so a missing folder is an error that
// says where it looked, never a reason to skip a check.

import { existsSync } from "node:fs";
import { join } from "node:path";

/**
 * The vectors folder `sub` (e.g. "openssh"), or the folder named by the environment variable
 * `envOverride` when that is set. Throws, failing the test file, when the folder is missing.
 */
export function vectorsDir(sub: string, envOverride?: string): string {
  const fromEnv = envOverride ? process.env[envOverride] : undefined;
  const root = process.env.TEST_VECTORS ?? join(import.meta.dir, "../../../shared/vectors");
  const dir = fromEnv ?? join(root, sub);
  if (!existsSync(dir)) {
    const source =
      fromEnv !== undefined
        ? `${envOverride}=${fromEnv}`
        : process.env.TEST_VECTORS !== undefined
          ? `TEST_VECTORS=${process.env.TEST_VECTORS}`
          : "../shared/vectors next to the repository (or set TEST_VECTORS to that folder)";
    throw new Error(`test vectors not found at ${dir} (from ${source}); these tests never skip`);
  }
  return dir;
}
