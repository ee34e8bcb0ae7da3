// Build one compiled executable, dist/tbot, with dist/tctl and dist/tauth as links to it.
// The version comes from `git describe`. Never strip the result: a stripped Bun executable
// loses its embedded program.

import { $ } from "bun";
import { mkdirSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dir, "..");
const dist = join(root, "dist");
mkdirSync(dist, { recursive: true });

const describe = (await $`git -C ${root} describe --tags --always --dirty`.nothrow().quiet()).stdout.toString().trim();
const pkg = (await Bun.file(join(root, "package.json")).json()) as { version: string };
const version = describe && !/^v?\d+\.\d+/.test(describe) ? `${pkg.version}+${describe}` : describe || pkg.version;

const t0 = performance.now();
await $`${process.execPath} build --compile --bytecode --format=esm --minify-syntax --minify-whitespace ${join(root, "src/main.ts")} --outfile ${join(dist, "tbot")} --define TBOT_BUILD_VERSION=${JSON.stringify(version)}`.cwd(root);
for (const link of ["tctl", "tauth"]) {
  rmSync(join(dist, link), { force: true });
  symlinkSync("tbot", join(dist, link));
}
const size = Bun.file(join(dist, "tbot")).size;
console.log(`built dist/tbot ${version} (${(size / 1048576).toFixed(1)} MiB) in ${Math.round(performance.now() - t0)} ms; links: dist/tctl, dist/tauth`);
