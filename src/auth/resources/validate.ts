// Validation of API input (JSON bodies): the same rules as for files, without positions.

import { JsCursor } from "../../resources/cursor.ts";
import type { BotResource, Resource, RoleResource, TokenResource } from "../../resources/types.ts";
import { readResource } from "./read-resource.ts";

export function validateBot(b: BotResource): void {
  readResource(new JsCursor(b), "bot");
}

export function validateToken(t: TokenResource): void {
  readResource(new JsCursor(t), "token");
}

export function validateRole(r: RoleResource): void {
  readResource(new JsCursor(r), "role");
}

/**
 * Validates a JSON value and returns the resource with defaults applied (join_method,
 * bound_keypair recovery, canonical system-role spelling), which is what should be stored.
 */
export function resourceFromJSON(value: unknown, expectedKind?: string): Resource {
  return readResource(new JsCursor(value), expectedKind);
}
