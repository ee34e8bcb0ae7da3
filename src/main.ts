// One executable, three programs: dispatch on the name we were started as (tctl and tauth
// are links to tbot). Nothing heavy is imported here: each program loads what it needs
// after its arguments are parsed, so `tbot version` and the one-shot path start fast.

import { basename } from "node:path";

const programs = ["tbot", "tctl", "tauth"] as const;
type Program = (typeof programs)[number];

function programName(): { program: Program; args: string[] } {
  const args = process.argv.slice(2);
  // Compiled: argv0 is the link we were run through; from source: `bun src/main.ts tctl ...`.
  for (const candidate of [process.argv0, process.execPath]) {
    const b = basename(candidate ?? "").replace(/\.(exe|ts|js)$/, "");
    if ((programs as readonly string[]).includes(b)) return { program: b as Program, args };
  }
  if ((programs as readonly string[]).includes(args[0] ?? ""))
    return { program: args[0] as Program, args: args.slice(1) };
  return { program: "tbot", args };
}

const { program, args } = programName();
if (args.length === 1 && (args[0] === "version" || args[0] === "--version")) {
  // The cheapest possible path: no command-line or config modules at all.
  const { VERSION } = await import("./version.ts");
  process.stdout.write(`${program} v${VERSION}\n`);
  process.exit(0);
}
// @peculiar/x509 (tauth only) needs the Reflect polyfill loaded by the entry file before it
// is imported; inside a compiled bundle an import from a lazily loaded module comes too late.
if (program === "tauth") await import("reflect-metadata");
// tbot's work is a renewal every few minutes, never hot enough to be worth optimised code: a
// higher tier-up threshold (the build's is 8, kept for tauth and tctl) keeps it out of the DFG
// JIT, whose compiler pages cost a daemon ~3 MiB RSS (bench/README.md, "tbot metrics and RSS").
if (program === "tbot") Bun.unsafe.setJITPolicy(100);
const run =
  program === "tctl"
    ? (await import("./cli/tctl.ts")).main
    : program === "tauth"
      ? (await import("./cli/tauth.ts")).main
      : (await import("./cli/tbot.ts")).main;
const code = await run(args);
process.exit(code);
