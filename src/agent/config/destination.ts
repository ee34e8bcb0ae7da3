// The destination union of §1.4, shared by `storage` and every service's `destination`.
// Both the current form (`type: directory`) and the v1 heritage form (`directory: /path`,
// `directory: {path: ...}`, `memory: {}`) are read, into the same shape. A directory path is
// kept as written, relative or not: `tbot configure` prints it back as given, and `tbot start`
// resolves relative ones against its working directory (resolve-paths.ts), as the reference does.

import type { MapReader, YNode } from "../../util/yaml-source.ts";
import { directoryDestination } from "./defaults.ts";
import type { ConfigPlaces } from "./places.ts";
import type { Destination, DirectoryDestination, DirectoryReader } from "./types.ts";
import { nonEmptyText, note } from "./yaml-values.ts";

const symlinkModes = ["try-secure", "secure", "insecure"] as const;
const aclModes = ["try", "off", "required"] as const;
const legacyKeys = ["directory", "memory", "kubernetes_secret"];

export interface DestinationContext {
  places: ConfigPlaces;
  /** Key in the places table, e.g. "storage" or "services[0].destination". */
  key: string;
  /** Storage holds the bot's own key; granting readers on it would leak the bot's identity. */
  isStorage: boolean;
  /** Keys a v1 destination entry may carry beside `directory` (its output settings). */
  siblingKeys?: readonly string[];
}

export function decodeDestination(n: YNode, ctx: DestinationContext): Destination {
  const m = n.map();
  note(ctx.places, ctx.key, n);
  if (!m.has("type") && legacyKeys.some((k) => m.keys().includes(k))) {
    m.strict([...legacyKeys, ...(ctx.siblingKeys ?? [])]);
    return decodeLegacy(m, ctx);
  }
  if (!m.has("type"))
    n.fail(
      `${n.path}.type must be set to "directory" or "memory" (e.g. type: directory, path: /opt/machine-id)`,
    );
  const typeNode = m.get("type");
  const type = nonEmptyText(typeNode);
  switch (type) {
    case "directory":
      m.strict(["type", "path", "symlinks", "acls", "readers"]);
      return decodeDirectory(m, ctx);
    case "memory":
      m.strict(["type"]);
      return { type: "memory" };
    case "kubernetes_secret":
      return typeNode.fail(
        `destination type "kubernetes_secret" is not supported yet; use "directory" or "memory"`,
      );
    default:
      return typeNode.fail(`unrecognized destination type (${type}); use "directory" or "memory"`);
  }
}

function decodeLegacy(m: MapReader, ctx: DestinationContext): Destination {
  const present = legacyKeys.filter((k) => m.keys().includes(k));
  if (present.length > 1)
    m.get(present[1]!).fail(`${m.self.path} sets both ${present[0]} and ${present[1]}; choose one`);
  const kind = present[0]!;
  if (kind === "kubernetes_secret")
    m.get(kind).fail(
      `destination type "kubernetes_secret" is not supported yet; use "directory" or "memory"`,
    );
  if (kind === "memory") {
    const v = m.get("memory");
    // `memory: {}`, `memory: true` and a bare `memory:` all meant "in memory".
    if (v.isMap()) v.map().strict([]);
    return { type: "memory" };
  }
  const dir = m.get("directory");
  if (dir.isMap()) {
    const dm = dir.map().strict(["path", "symlinks", "acls", "readers"]);
    return decodeDirectory(dm, ctx);
  }
  const path = nonEmptyText(dir);
  note(ctx.places, `${ctx.key}.path`, dir);
  return directoryDestination(path);
}

function decodeDirectory(m: MapReader, ctx: DestinationContext): DirectoryDestination {
  const pathNode = m.get("path");
  if (pathNode.missing) m.self.fail(`${pathNode.path} is required for a directory destination`);
  const path = nonEmptyText(pathNode);
  note(ctx.places, `${ctx.key}.path`, pathNode);
  const d = directoryDestination(path);
  if (m.has("symlinks")) d.symlinks = oneOf(m.get("symlinks"), symlinkModes);
  if (m.has("acls")) {
    d.acls = oneOf(m.get("acls"), aclModes);
    note(ctx.places, `${ctx.key}.acls`, m.get("acls"));
  }
  if (m.has("readers")) {
    const readersNode = m.get("readers");
    note(ctx.places, `${ctx.key}.readers`, readersNode);
    if (ctx.isStorage)
      readersNode.fail(
        `${readersNode.path} is not allowed: readers apply to service destinations, not to storage`,
      );
    d.readers = readersNode.list().map(decodeReader);
  }
  return d;
}

function decodeReader(n: YNode): DirectoryReader {
  const m = n.map().strict(["user", "group"]);
  const hasUser = m.has("user");
  if (hasUser === m.has("group")) n.fail(`${n.path} must set exactly one of user or group`);
  return hasUser ? { user: nonEmptyText(m.get("user")) } : { group: nonEmptyText(m.get("group")) };
}

function oneOf<T extends string>(n: YNode, allowed: readonly T[]): T {
  const v = nonEmptyText(n);
  if (!(allowed as readonly string[]).includes(v))
    n.fail(`${n.path} must be one of ${allowed.join(", ")}, got "${v}"`);
  return v as T;
}
