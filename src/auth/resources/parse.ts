// `tctl create -f FILE`: one or more YAML documents, each a resource.

import { UserError } from "../../util/errors.ts";
import { YamlSource } from "../../util/yaml-source.ts";
import { readResource } from "./read-resource.ts";
import type { Resource } from "./types.ts";

/** Parses and validates every document. Errors: UserError "file:line:col: message". */
export function parseResources(text: string, file: string): Resource[] {
  const roots = new YamlSource(text, file).roots();
  if (roots.length === 0) throw new UserError(`${file}: no resources found (the file is empty)`);
  return roots.map((root) => readResource(root));
}
