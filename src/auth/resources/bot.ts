// kind: bot, version: v1 (reference §9.1).

import type { Cursor, Fields } from "../../resources/cursor.ts";
import { readMetadata, readPassThroughStatus, readVersion } from "../../resources/metadata.ts";
import type { BotResource } from "../../resources/types.ts";
import { formatDuration } from "../../util/duration.ts";
import { botNameProblem } from "./names.ts";

/** The reference caps a bot's session TTL at one week. */
const maxBotSessionTtlMs = 168 * 3_600_000;

export function readBot(top: Fields): BotResource {
  const version = readVersion(top, "bot", ["v1"]) as "v1";
  const metadata = readMetadata(top, botNameProblem);
  const bot: BotResource = { kind: "bot", version, metadata, spec: { roles: [], traits: [] } };
  // A bot without spec is legal (it may impersonate nothing yet).
  const specNode = top.get("spec");
  if (!specNode.missing) {
    const spec = specNode.map().strict(["roles", "traits", "max_session_ttl"]);
    if (spec.has("roles")) bot.spec.roles = spec.get("roles").strList();
    if (spec.has("traits")) bot.spec.traits = spec.get("traits").list().map(readTrait);
    if (spec.has("max_session_ttl")) {
      const ttl = readBotSessionTtl(spec.get("max_session_ttl"));
      if (ttl) bot.spec.max_session_ttl = ttl;
    }
  }
  const status = readPassThroughStatus(top);
  if (status) bot.status = status as BotResource["status"];
  return bot;
}

function readTrait(node: Cursor): { name: string; values: string[] } {
  const trait = node.map().strict(["name", "values"]);
  const name = trait.optStr("name");
  if (!name) node.fail(`${node.path}.name is required`);
  const values = trait.has("values") ? trait.get("values").strList() : [];
  return { name, values };
}

/** Keeps the operator's spelling ("12h"); zero means "use the default" and is dropped. */
function readBotSessionTtl(node: Cursor): string | undefined {
  const ms = node.duration();
  if (ms === 0) return undefined;
  if (ms > maxBotSessionTtlMs) node.fail(`${node.path} must be at most 168h, got ${formatDuration(ms)}`);
  return node.str();
}
