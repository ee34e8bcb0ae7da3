// Where the conformance vectors are: test/vectors in this repository (its README.md gives each
// file's origin and licence), or TEST_VECTORS. They ship with the repository, so a missing
// folder is an error that says where it looked, never a reason to skip a check.

import { existsSync } from "node:fs";
import { join } from "node:path";

/**
 * The vectors folder `sub` (e.g. "openssh"), or the folder named by the environment variable
 * `envOverride` when that is set. Throws, failing the test file, when the folder is missing.
 */
export function vectorsDir(sub: string, envOverride?: string): string {
  const fromEnv = envOverride ? process.env[envOverride] : undefined;
  const root = process.env.TEST_VECTORS ?? join(import.meta.dir, "../vectors");
  const dir = fromEnv ?? join(root, sub);
  if (!existsSync(dir)) {
    const source =
      fromEnv !== undefined
        ? `${envOverride}=${fromEnv}`
        : process.env.TEST_VECTORS !== undefined
          ? `TEST_VECTORS=${process.env.TEST_VECTORS}`
          : "test/vectors in the repository (or set TEST_VECTORS to another copy)";
    throw new Error(`test vectors not found at ${dir} (from ${source}); these tests never skip`);
  }
  return dir;
}
