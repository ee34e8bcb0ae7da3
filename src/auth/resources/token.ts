// kind: token, version: v2 (reference §9.3): who may join, and how they prove it.

import { tokenSpecBlocks } from "../../join/registry.ts";
import type { Cursor, Fields } from "../../resources/cursor.ts";
import { readMetadata, readPassThroughStatus, readVersion } from "../../resources/metadata.ts";
import type { TokenResource, TokenSpec } from "../../resources/types.ts";
import { closest, suggestion } from "../../util/did-you-mean.ts";
import { botNameProblem, tokenNameProblem } from "./names.ts";
import { joinMethods, passThroughSpecKeys, systemRoles, tokenSpecKeys } from "./token-vocabulary.ts";

export function readToken(top: Fields): TokenResource {
  const version = readVersion(top, "token", ["v2"]) as "v2";
  const metadata = readMetadata(top, tokenNameProblem);
  const specNode = top.get("spec");
  if (specNode.missing)
    top.get("kind").fail("spec is required for a token (at least spec.roles, e.g. roles: [Bot])");
  const spec = specNode.map().strict(tokenSpecKeys);

  const roles = readSystemRoles(spec);
  const joinMethod = readJoinMethod(spec);
  const out: TokenSpec = { roles, join_method: joinMethod };

  const botName = spec.optStr("bot_name");
  if (roles.includes("Bot")) {
    const at: Cursor = spec.has("bot_name") ? spec.get("bot_name") : spec.get("roles");
    if (!botName)
      at.fail("spec.bot_name is required when spec.roles includes Bot (name the bot this token enrols)");
    const problem = botNameProblem(botName);
    if (problem) spec.get("bot_name").fail(`spec.bot_name: ${problem}`);
    out.bot_name = botName;
  } else if (botName) {
    spec
      .get("bot_name")
      .fail("spec.bot_name is set but spec.roles does not include Bot; add Bot to spec.roles");
  }

  // The blocks of the methods we implement (each method reads its own) must agree with
  // join_method, so a block is never silently unused.
  for (const { method, block } of tokenSpecBlocks) {
    if (joinMethod === method) out[block.key] = block.read(spec.get(block.key), joinMethodNodeOf(spec));
    else if (spec.has(block.key)) {
      const node = spec.get(block.key);
      // A shared key with its other method, or an empty list (the reference's `allow: []`), is kept.
      if (block.sharedWith?.includes(joinMethod) || (node.isList() && node.list().length === 0))
        out[block.key] = node.toJS();
      else blockWithoutMethod(spec, block.key, method, joinMethod);
    }
  }

  for (const key of passThroughSpecKeys) if (spec.has(key)) out[key] = spec.get(key).toJS();

  const token: TokenResource = { kind: "token", version, metadata, spec: out };
  const status = readPassThroughStatus(top);
  if (status) token.status = status as TokenResource["status"];
  return token;
}

function readSystemRoles(spec: Fields): string[] {
  const node = spec.get("roles");
  if (node.missing) spec.get("roles").fail("spec.roles is required, e.g. roles: [Bot]");
  const items = node.list();
  if (items.length === 0) node.fail("spec.roles must name at least one system role, e.g. [Bot]");
  return items.map((item: Cursor) => {
    const name = item.str();
    // Teleport accepts system roles in any case ("bot", "Bot"); we store the canonical spelling.
    const canonical = systemRoles.find((r) => r.toLowerCase() === name.toLowerCase());
    if (canonical === undefined)
      item.fail(`${item.path}: unknown system role "${name}"${suggestion(name, systemRoles)}`);
    return canonical;
  });
}

function readJoinMethod(spec: Fields): string {
  const method = spec.optStr("join_method");
  // Teleport's legacy default: tokens with AWS allow rules and no method are ec2 tokens.
  if (!method) {
    const allow = spec.get("allow");
    return allow.isList() && allow.list().length > 0 ? "ec2" : "token";
  }
  if (!(joinMethods as readonly string[]).includes(method)) {
    const near = closest(method, joinMethods);
    const hint = near ? ` (did you mean "${near}"?)` : "";
    spec
      .get("join_method")
      .fail(`unrecognized join method "${method}"${hint}; known methods: ${joinMethods.join(", ")}`);
  }
  return method;
}

function joinMethodNodeOf(spec: Fields): Cursor {
  return spec.has("join_method") ? spec.get("join_method") : spec.get("roles");
}

function blockWithoutMethod(spec: Fields, block: string, owner: string, joinMethod: string): never {
  const node: Cursor = spec.get(block);
  node.fail(
    `spec.${block} is only used with join_method: ${owner}, but join_method is "${joinMethod}"; set join_method: ${owner} or remove the block`,
  );
}
