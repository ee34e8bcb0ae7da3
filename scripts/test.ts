// Runs bun test over test/unit and test/e2e and ends with the line CI reads:
// "N passed, N failed". bun's own summary stays above it for people.
// The tests run with TMPDIR set to a fresh directory of their own: whatever they (or the tools
// they start) leave in it is listed at the end and counted as one failure, so a test that
// forgets its clean-up is found the day it lands, not as clutter in /tmp.

import { chmodSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { spawn } from "bun";

const root = join(import.meta.dir, "..");
const args = process.argv.slice(2);
const targets = args.length ? args : ["test/unit", "test/e2e"];
// e2e tests start real processes; bunfig.toml's [test] timeout is not applied by bun 1.4.5.
const tmp = mkdtempSync(join(process.env.TMPDIR || "/tmp", "tbot-tests-"));
// Like /tmp: tests run binaries as other users (nobody, the package's service user).
chmodSync(tmp, 0o1777);
const proc = spawn([process.execPath, "test", "--timeout", "60000", ...targets], {
  cwd: root,
  stdout: "inherit",
  stderr: "pipe",
  env: { ...process.env, FORCE_COLOR: "0", TMPDIR: tmp },
});
let err = "";
const dec = new TextDecoder();
for await (const chunk of proc.stderr) {
  const text = dec.decode(chunk);
  err += text;
  process.stderr.write(text);
}
const code = await proc.exited;
const passed = Number(/^\s*(\d+) pass$/m.exec(err)?.[1] ?? 0);
let failed = Number(/^\s*(\d+) fail$/m.exec(err)?.[1] ?? (code === 0 ? 0 : 1));
const leftovers = readdirSync(tmp).sort();
rmSync(tmp, { recursive: true, force: true });
if (leftovers.length) {
  console.log(`the tests left ${leftovers.length} entries in their TMPDIR: ${leftovers.join(" ")}`);
  failed += 1;
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(code === 0 && failed === 0 && passed > 0 ? 0 : 1);
