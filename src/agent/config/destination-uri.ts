// The URI shorthand CLI flags use for destinations (--storage, --destination):
// file:///abs/path or a bare path ⇒ directory, memory:// ⇒ memory (§1.4, App. B).

import { resolve } from "node:path";
import { directoryDestination } from "./defaults.ts";
import type { Destination } from "./types.ts";

/**
 * Returns the destination or an error message. A bare relative path is kept as given, for
 * `tbot configure` to print and `tbot start` to resolve (resolve-paths.ts); a command that
 * uses the directory right away passes `cwd` to have it resolved here. `file://./x` names the
 * host "." and is refused, as the reference's URL parsing does: a relative path has no URI form.
 */
export function parseDestinationUri(uri: string, cwd?: string): Destination | string {
  const s = uri.trim();
  if (s === "") return "the destination is empty; use a path, file:///abs/path or memory://";
  const m = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(s);
  if (!m) return directoryDestination(cwd === undefined ? s : resolve(cwd, s));
  const scheme = m[1]!.toLowerCase();
  const rest = m[2]!;
  switch (scheme) {
    case "file": {
      const slash = rest.indexOf("/");
      const host = slash < 0 ? rest : rest.slice(0, slash);
      if (host !== "" && host !== "localhost")
        return `file-backed data storage must be on the local host: "${s}" names host "${host}"; use file:///abs/path, or a plain path (such as ./dir) for one relative to the working directory`;
      const path = slash < 0 ? "" : rest.slice(slash);
      if (path === "" || path === "/") return `"${s}" has no directory path; use file:///abs/path`;
      let decoded: string;
      try {
        decoded = decodeURIComponent(path);
      } catch {
        return `"${s}" has bad percent-encoding in its path`;
      }
      return directoryDestination(decoded);
    }
    case "memory":
      if (rest !== "")
        return `memory-backed data storage should not have host or path specified: use "memory://"`;
      return { type: "memory" };
    case "kubernetes-secret":
      return `kubernetes-secret destinations are not supported yet; use file:///abs/path or memory://`;
    default:
      return `unrecognized data storage scheme "${scheme}" in "${s}"; use file:///abs/path, a path or memory://`;
  }
}
