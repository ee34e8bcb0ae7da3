// Dispatch on `kind`: one document (YAML or JSON) to one validated resource.

import type { Cursor, Fields } from "../../resources/cursor.ts";
import { topLevelKeys } from "../../resources/metadata.ts";
import type { Resource } from "../../resources/types.ts";
import { readApp, readDatabase } from "./app-db.ts";
import { readBot } from "./bot.ts";
import { readRole } from "./role.ts";
import { readToken } from "./token.ts";
import { readWorkloadIdentity } from "./workload-identity.ts";

const readers: Record<string, (top: Fields) => Resource> = {
  bot: readBot,
  token: readToken,
  role: readRole,
  app: readApp,
  db: readDatabase,
  workload_identity: readWorkloadIdentity,
};

export const supportedKinds = Object.keys(readers);

/** Reads one resource; `expectedKind` restricts it (API endpoints take one kind each). */
export function readResource(root: Cursor, expectedKind?: string): Resource {
  // Unknown top-level keys first: "kidn: bot" deserves "did you mean kind", not "no kind".
  const top = root.map().strict(topLevelKeys);
  const kind = top.optStr("kind") ?? "";
  const at: Cursor = top.has("kind") ? top.get("kind") : root;
  // Own keys only: "toString" is not a kind.
  const reader = Object.hasOwn(readers, kind) ? readers[kind] : undefined;
  if (!reader) {
    const missing = kind === "" ? ': the document has no "kind" field' : "";
    at.fail(`unsupported resource kind "${kind}" (supported: ${supportedKinds.join(", ")})${missing}`);
  }
  if (expectedKind !== undefined && kind !== expectedKind)
    at.fail(`kind must be "${expectedKind}", got "${kind}"`);
  return reader!(top);
}
