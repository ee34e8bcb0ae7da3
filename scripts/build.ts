// Build one compiled executable, dist/tbot, with dist/tctl and dist/tauth as links to it.
// The version comes from `git describe`. --splitting keeps each program's modules in their own
// chunks, loaded only when imported: tbot never loads tauth's X.509 code (less RSS, faster
// start). Never strip the result: a stripped Bun executable loses its embedded program.

import { mkdirSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { $ } from "bun";

const root = join(import.meta.dir, "..");
// TBOT_DIST builds elsewhere (parallel work trees sharing one checkout); tests read the same variable.
const dist = process.env.TBOT_DIST || join(root, "dist");
mkdirSync(dist, { recursive: true });

const describe = (await $`git -C ${root} describe --tags --always --dirty`.nothrow().quiet()).stdout
  .toString()
  .trim();
const pkg = (await Bun.file(join(root, "package.json")).json()) as { version: string };
const version =
  describe && !/^v?\d+\.\d+/.test(describe) ? `${pkg.version}+${describe}` : describe || pkg.version;

const t0 = performance.now();
// --no-compile-autoload-*: an identity agent must not pick up a stray .env or bunfig.toml from
// whatever directory it is started in. --smol: a GC that favours memory (daemon RSS).
const flags = [
  "--compile",
  "--bytecode",
  "--format=esm",
  "--splitting",
  "--minify-syntax",
  "--minify-whitespace",
  "--no-compile-autoload-dotenv",
  "--no-compile-autoload-bunfig",
  "--compile-exec-argv=--smol",
  "--compile-jit-policy=8",
];
const entry = join(root, "src/main.ts");
const out = join(dist, "tbot");
await $`${process.execPath} build ${flags} ${entry} --outfile ${out} --define TBOT_BUILD_VERSION=${JSON.stringify(version)}`.cwd(
  root,
);
for (const link of ["tctl", "tauth"]) {
  rmSync(join(dist, link), { force: true });
  symlinkSync("tbot", join(dist, link));
}
const size = Bun.file(join(dist, "tbot")).size;
console.log(
  `built dist/tbot ${version} (${(size / 1048576).toFixed(1)} MiB) in ${Math.round(performance.now() - t0)} ms; links: dist/tctl, dist/tauth`,
);
