import { UserError } from "../../util/errors.ts";
import { logger } from "../../util/log.ts";
import type { Destination } from "../config/index.ts";
import { AclPolicy, resolveReaders } from "./acl.ts";
import { DirectoryStore } from "./directory.ts";
import { MemoryStore, type Store } from "./store.ts";

const log = logger("TBOT:STORAGE");

/** `label` names the store in messages: "storage" for the bot's own, "destination" for outputs. */
export function openStore(d: Destination, label = "directory"): Store {
  if (d.type === "memory") return new MemoryStore();
  const what = `${label} ${d.path}`;
  // Storage holds the bot's own key: never readable by anyone else (config refuses it too).
  if (label === "storage" && d.readers.length > 0)
    throw new UserError(`${what}: readers apply to service destinations, not to storage`);
  let acl: AclPolicy | undefined;
  if (d.readers.length > 0 && d.acls === "off")
    log.warn(
      "This destination has readers but acls: off: tbot sets no ACLs, so they are not granted access",
      {
        path: d.path,
      },
    );
  else if (d.readers.length > 0) acl = new AclPolicy(d.acls, resolveReaders(d.readers, what), what);
  // symlinks: see safe-dir.ts (secure needs openat2, try-secure uses it where the kernel has it).
  return new DirectoryStore(d.path, { symlinks: d.symlinks, label, acl });
}
