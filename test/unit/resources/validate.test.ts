// API input goes through the same rules as files, with messages that carry no position.

import { describe, expect, test } from "bun:test";
import {
  type BotResource,
  type RoleResource,
  resourceFromJSON,
  type TokenResource,
  validateBot,
  validateRole,
  validateToken,
} from "../../../src/auth/resources/index.ts";
import { UserError } from "../../../src/util/errors.ts";
import { ed25519PublicKey } from "./fixtures.ts";

const goodBot: BotResource = {
  kind: "bot",
  version: "v1",
  metadata: { name: "ci" },
  spec: { roles: ["access"], traits: [{ name: "logins", values: ["ubuntu"] }], max_session_ttl: "12h" },
};

const goodToken: TokenResource = {
  kind: "token",
  version: "v2",
  metadata: { name: "ci-token", expires: "2030-01-01T00:00:00Z" },
  spec: {
    roles: ["Bot"],
    join_method: "bound_keypair",
    bot_name: "ci",
    bound_keypair: {
      onboarding: { initial_public_key: ed25519PublicKey },
      recovery: { mode: "insecure", limit: 0 },
    },
  },
};

function messageOf(f: () => void): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return (e as UserError).message;
  }
  throw new Error("expected a UserError");
}

describe("validateBot / validateToken / validateRole", () => {
  test("valid resources pass", () => {
    validateBot(goodBot);
    validateToken(goodToken);
    validateRole({
      kind: "role",
      version: "v7",
      metadata: { name: "r" },
      spec: {
        allow: { logins: ["x"], node_labels: { env: ["a", "b"] } },
        deny: {},
        options: { max_session_ttl: "1h" },
      },
    });
  });

  test("wrong types and unknown keys are reported by path, without position", () => {
    const bad = { ...goodBot, spec: { ...goodBot.spec, roles: "access" } } as unknown as BotResource;
    expect(messageOf(() => validateBot(bad))).toBe('spec.roles must be a list, got the string "access"');
    const extra = { ...goodBot, spec: { ...goodBot.spec, rolez: [] } } as unknown as BotResource;
    expect(messageOf(() => validateBot(extra))).toBe('unknown field "rolez" in spec (did you mean "roles"?)');
  });

  test("semantic rules are the same as for files", () => {
    const noBotName = { ...goodToken, spec: { ...goodToken.spec, bot_name: undefined } };
    expect(messageOf(() => validateToken(noBotName))).toStartWith("spec.bot_name is required");
    const both = structuredClone(goodToken);
    both.spec.bound_keypair!.onboarding.registration_secret = "s";
    expect(messageOf(() => validateToken(both))).toContain("mutually exclusive");
    const longTtl = { ...goodBot, spec: { ...goodBot.spec, max_session_ttl: "169h" } };
    expect(messageOf(() => validateBot(longTtl))).toBe(
      "spec.max_session_ttl must be at most 168h, got 169h0m0s",
    );
  });

  test("a resource of another kind is refused", () => {
    expect(messageOf(() => validateRole(goodBot as unknown as RoleResource))).toBe(
      'kind must be "role", got "bot"',
    );
  });
});

describe("resourceFromJSON", () => {
  test("applies defaults the server should store", () => {
    const token = resourceFromJSON({
      kind: "token",
      version: "v2",
      metadata: { name: "t" },
      spec: { roles: ["bot"], bot_name: "ci", join_method: "bound_keypair" },
    }) as TokenResource;
    expect(token.spec.roles).toEqual(["Bot"]);
    expect(token.spec.bound_keypair).toEqual({ onboarding: {}, recovery: { mode: "standard", limit: 1 } });
  });

  test("does not alias the input's pass-through blocks", () => {
    const input = {
      kind: "role",
      version: "v7",
      metadata: { name: "r" },
      spec: { allow: { rules: [{ verbs: ["x"] }] } },
    };
    const role = resourceFromJSON(input) as RoleResource;
    (role.spec.allow.rules as { verbs: string[] }[])[0]!.verbs.push("y");
    expect(input.spec.allow.rules[0]!.verbs).toEqual(["x"]);
  });

  test("refuses non-objects plainly", () => {
    expect(messageOf(() => resourceFromJSON("bot"))).toBe('document must be a mapping, got the string "bot"');
  });
});
