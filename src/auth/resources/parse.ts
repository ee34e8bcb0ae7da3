// `tctl create -f FILE`: one or more YAML documents, each a resource.

import type { Resource } from "../../resources/types.ts";
import { UserError } from "../../util/errors.ts";
import { YamlSource, type YNode } from "../../util/yaml-source.ts";
import { readResource } from "./read-resource.ts";

/** Parses and validates every document. Errors: UserError "file:line:col: message". */
export function parseResources(text: string, file: string): Resource[] {
  const roots = documentsOf(text).flatMap((doc) => new YamlSource(doc, file).roots());
  if (roots.length === 0) throw new UserError(`${file}: no resources found (the file is empty)`);
  // A document may also be a list of resources: that is what `tctl get --format=json` prints,
  // and re-applying its output should just work.
  return roots.flatMap((root: YNode) =>
    (root.isList() ? root.list() : [root]).map((node) => readResource(node)),
  );
}

/**
 * One text per document, in which everything before the document is turned into comment
 * lines of the same length. YamlSource reports node positions relative to the document a node
 * is in, so parsing each document at its own place keeps line:col right for the second and
 * later documents. (Comments, not spaces: YamlSource's blank-document check backtracks badly
 * on long runs of whitespace.)
 */
function documentsOf(text: string): string[] {
  const separator = /^---[ \t]*$/gm;
  const commentedOut = (s: string) => s.replace(/^[^\n]+/gm, (line) => `#${" ".repeat(line.length - 1)}`);
  const docs: string[] = [];
  let start = 0;
  const take = (end: number, next: number) => {
    const body = text.slice(start, end);
    if (body.trim() !== "") docs.push(commentedOut(text.slice(0, start)) + body);
    start = next;
  };
  for (let m = separator.exec(text); m; m = separator.exec(text)) take(m.index, m.index + m[0].length);
  take(text.length, text.length);
  return docs;
}
