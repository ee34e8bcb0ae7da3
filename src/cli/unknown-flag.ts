// "unknown flag --destinaton-dir (did you mean --destination-dir?)": the same help for a
// misspelt flag as config keys get, for every command line of ours.

import { closest } from "../util/did-you-mean.ts";

/** The message for `flag` (as typed, with its dashes), suggesting the nearest of `names`. */
export function unknownFlag(flag: string, names: readonly string[]): string {
  const bare = flag.replace(/^-+/, "").split("=")[0]!;
  const near =
    bare.length > 1
      ? closest(
          bare,
          names.filter((n) => n.length > 1),
        )
      : undefined;
  return `unknown flag ${flag}${near ? ` (did you mean --${near}?)` : ""}`;
}

/** The flag a node:util parseArgs "unknown option" error is about, if it is one. */
export function unknownOptionOf(e: Error & { code?: string }): string | undefined {
  if (e.code !== "ERR_PARSE_ARGS_UNKNOWN_OPTION") return undefined;
  return /'(-{1,2}[^' ]+)/.exec(e.message)?.[1];
}
