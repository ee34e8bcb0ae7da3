import { UserError } from "../../util/errors.ts";
import type { Destination } from "../config/index.ts";
import { DirectoryStore } from "./directory.ts";
import { MemoryStore, type Store } from "./store.ts";

/** `label` names the store in messages: "storage" for the bot's own, "destination" for outputs. */
export function openStore(d: Destination, label = "directory"): Store {
  if (d.type === "memory") return new MemoryStore();
  // POSIX ACLs for readers are not built yet. Options that promise them must fail loudly
  // rather than leave files less protected than configured.
  if (d.readers.length || d.acls === "required")
    throw new UserError(
      `${d.path}: "readers" and "acls: required" need POSIX ACLs, which this build does not set yet; remove them and grant access with the directory's owner or group instead`,
    );
  // symlinks: secure and try-secure both refuse links in the path (an O_NOFOLLOW walk, which
  // every kernel supports); insecure follows them. See safe-dir.ts.
  return new DirectoryStore(d.path, { symlinks: d.symlinks, label });
}
