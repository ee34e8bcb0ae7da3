// Stamped by scripts/build.ts (`--define TBOT_BUILD_VERSION=...` from `git describe`);
// "0.1.0-dev" when run from source.
declare const TBOT_BUILD_VERSION: string | undefined;
export const VERSION: string = typeof TBOT_BUILD_VERSION === "string" ? TBOT_BUILD_VERSION : "0.1.0-dev";
