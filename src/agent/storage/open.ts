import { UserError } from "../../util/errors.ts";
import type { Destination } from "../config/index.ts";
import { DirectoryStore } from "./directory.ts";
import { MemoryStore, type Store } from "./store.ts";

export function openStore(d: Destination): Store {
  if (d.type === "memory") return new MemoryStore();
  // POSIX ACLs for readers and openat2(RESOLVE_NO_SYMLINKS) are not built yet. Options that
  // promise them must fail loudly rather than leave files less protected than configured.
  if (d.readers.length || d.acls === "required")
    throw new UserError(
      `${d.path}: "readers" and "acls: required" need POSIX ACLs, which this build does not set yet; remove them and grant access with the directory's owner or group instead`,
    );
  if (d.symlinks === "secure")
    throw new UserError(
      `${d.path}: "symlinks: secure" (openat2 with RESOLVE_NO_SYMLINKS) is not supported by this build yet; use "try-secure" (the default) or "insecure"`,
    );
  return new DirectoryStore(d.path);
}
