// Wire message schemas: every malformed shape is a SchemaError (400) naming the field, never
// a TypeError; bounds are enforced; nesting is limited before JSON.parse.

import { describe, expect, test } from "bun:test";
import { adminSchemas } from "../../../src/protocol/admin-messages.ts";
import {
  BotHeartbeatSchema,
  HostCertsRequestSchema,
  JoinRequestSchema,
  NodeHeartbeatSchema,
  RenewRequestSchema,
  UserCertsRequestSchema,
} from "../../../src/protocol/messages.ts";
import { parseJsonBounded, type Schema, SchemaError } from "../../../src/protocol/validate.ts";

const keys = {
  tls_public_key: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
  ssh_public_key: "ssh-ed25519 AAAA",
};
const join = () => ({
  client_init: { join_method: "token", token_name: "abc123", system_role: "Bot" as const },
  bot_params: { public_keys: { ...keys }, expires: "2030-01-01T00:00:00.000Z" },
});

function problem<T>(s: Schema<T>, v: unknown): string {
  try {
    s.parse(v, "");
  } catch (e) {
    expect(e).toBeInstanceOf(SchemaError);
    expect((e as SchemaError).code).toBe("bad_parameter");
    expect((e as SchemaError).httpStatus).toBe(400);
    return (e as Error).message;
  }
  throw new Error(`accepted: ${JSON.stringify(v)?.slice(0, 200)}`);
}

describe("JoinRequest", () => {
  test("a valid request passes, typed, with unknown fields dropped", () => {
    const v = { ...join(), extra: { deep: 1 }, method_init: { initial_join_secret: "s" } };
    const out = JoinRequestSchema.parse(v, "");
    expect(out).toEqual({ ...join(), method_init: { initial_join_secret: "s" } });
    expect("extra" in out).toBe(false);
  });

  test("absent join_method is allowed (token), null optional fields are absent", () => {
    const v = join() as Record<string, unknown>;
    delete (v.client_init as Record<string, unknown>).join_method;
    v.method_init = null;
    v.solution = null;
    expect(JoinRequestSchema.parse(v, "") as unknown).toEqual({
      client_init: { token_name: "abc123", system_role: "Bot" },
      bot_params: join().bot_params,
    });
  });

  const cases: [string, (v: ReturnType<typeof join> & Record<string, unknown>) => unknown, string][] = [
    [
      "token_name an object with toString",
      (v) => {
        (v.client_init as Record<string, unknown>).token_name = { toString: 1 };
        return v;
      },
      "client_init.token_name must be a string, got an object",
    ],
    [
      "token_name a number",
      (v) => {
        (v.client_init as Record<string, unknown>).token_name = 5;
        return v;
      },
      "client_init.token_name must be a string, got a number",
    ],
    [
      "token_name empty",
      (v) => {
        v.client_init.token_name = "";
        return v;
      },
      "client_init.token_name must not be empty",
    ],
    [
      "token_name 513 chars",
      (v) => {
        v.client_init.token_name = "a".repeat(513);
        return v;
      },
      "client_init.token_name must be at most 512 characters, got 513",
    ],
    [
      "token_name 1 MB",
      (v) => {
        v.client_init.token_name = "a".repeat(1 << 20);
        return v;
      },
      "client_init.token_name must be at most 512 characters, got 1048576",
    ],
    [
      "token_name with a space",
      (v) => {
        v.client_init.token_name = "a b";
        return v;
      },
      "client_init.token_name must be 1 to 512 printable characters without spaces",
    ],
    [
      "join_method an array",
      (v) => {
        (v.client_init as Record<string, unknown>).join_method = ["token"];
        return v;
      },
      "client_init.join_method must be a string, got an array",
    ],
    [
      "join_method too long",
      (v) => {
        v.client_init.join_method = "x".repeat(65);
        return v;
      },
      "client_init.join_method must be at most 64 characters, got 65",
    ],
    [
      "system_role other",
      (v) => {
        (v.client_init as Record<string, unknown>).system_role = "Admin";
        return v;
      },
      'client_init.system_role must be "Bot", got "Admin"',
    ],
    [
      "client_init missing",
      (v) => {
        delete (v as Record<string, unknown>).client_init;
        return v;
      },
      "client_init is required",
    ],
    [
      "client_init an array",
      (v) => {
        (v as Record<string, unknown>).client_init = [];
        return v;
      },
      "client_init must be an object, got an array",
    ],
    [
      "client_init a string",
      (v) => {
        (v as Record<string, unknown>).client_init = "x";
        return v;
      },
      "client_init must be an object, got a string",
    ],
    [
      "public_keys null",
      (v) => {
        (v.bot_params as Record<string, unknown>).public_keys = null;
        return v;
      },
      "bot_params.public_keys is required",
    ],
    [
      "tls key null",
      (v) => {
        (v.bot_params.public_keys as Record<string, unknown>).tls_public_key = null;
        return v;
      },
      "bot_params.public_keys.tls_public_key is required",
    ],
    [
      "ssh key a number",
      (v) => {
        (v.bot_params.public_keys as Record<string, unknown>).ssh_public_key = 1;
        return v;
      },
      "bot_params.public_keys.ssh_public_key must be a string, got a number",
    ],
    [
      "key 4097 chars",
      (v) => {
        v.bot_params.public_keys.ssh_public_key = "k".repeat(4097);
        return v;
      },
      "bot_params.public_keys.ssh_public_key must be at most 4096 characters, got 4097",
    ],
    [
      "expires not RFC 3339",
      (v) => {
        v.bot_params.expires = "tomorrow";
        return v;
      },
      'bot_params.expires must be an RFC 3339 time such as "2025-12-01T00:00:00Z"',
    ],
    [
      "expires 31 February",
      (v) => {
        v.bot_params.expires = "2030-02-31T00:00:00Z";
        return v;
      },
      'bot_params.expires must be an RFC 3339 time such as "2025-12-01T00:00:00Z"',
    ],
    [
      "expires a number",
      (v) => {
        (v.bot_params as Record<string, unknown>).expires = 1893456000;
        return v;
      },
      "bot_params.expires must be a string, got a number",
    ],
    [
      "method_init an array",
      (v) => {
        v.method_init = [1];
        return v;
      },
      "method_init must be an object, got an array",
    ],
    [
      "method_init a string",
      (v) => {
        v.method_init = "x";
        return v;
      },
      "method_init must be an object, got a string",
    ],
    [
      "method_init 9 KiB",
      (v) => {
        v.method_init = { a: "x".repeat(9000) };
        return v;
      },
      "method_init must be at most 8192 bytes of JSON, got 9008",
    ],
    [
      "solution a number",
      (v) => {
        v.solution = 7;
        return v;
      },
      "solution must be an object, got a number",
    ],
    [
      "continuation an object",
      (v) => {
        v.continuation = {};
        return v;
      },
      "continuation must be a string, got an object",
    ],
  ];
  for (const [name, mutate, message] of cases)
    test(`refused: ${name}`, () => {
      expect(
        problem(JoinRequestSchema, mutate(join() as ReturnType<typeof join> & Record<string, unknown>)),
      ).toBe(message);
    });

  test("the body itself: array, null, string", () => {
    expect(problem(JoinRequestSchema, [])).toBe("the request body must be an object, got an array");
    expect(problem(JoinRequestSchema, null)).toBe("the request body must be an object, got null");
    expect(problem(JoinRequestSchema, "x")).toBe("the request body must be an object, got a string");
  });

  test("a __proto__ key in the body changes nothing", () => {
    const v = JSON.parse(
      `{"__proto__":{"token_name":"p"},"client_init":{"token_name":"t","system_role":"Bot"},"bot_params":${JSON.stringify(join().bot_params)}}`,
    );
    const out = JoinRequestSchema.parse(v, "");
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(out.client_init.token_name).toBe("t");
  });
});

describe("other messages", () => {
  const cert = { public_keys: keys, expires: "2030-01-01T00:00:00Z" };
  test("RenewRequest", () => {
    expect(RenewRequestSchema.parse(cert, "")).toEqual(cert);
    expect(problem(RenewRequestSchema, { ...cert, public_keys: [] })).toBe(
      "public_keys must be an object, got an array",
    );
  });
  test("UserCertsRequest: role_requests strings, at most 64", () => {
    expect(UserCertsRequestSchema.parse({ ...cert, role_requests: ["access"] }, "").role_requests).toEqual([
      "access",
    ]);
    expect(problem(UserCertsRequestSchema, { ...cert, role_requests: [1] })).toBe(
      "role_requests[0] must be a string, got a number",
    );
    expect(problem(UserCertsRequestSchema, { ...cert, role_requests: Array(65).fill("r") })).toBe(
      "role_requests must have at most 64 entries, got 65",
    );
  });
  test("HostCertsRequest", () => {
    const v = { ssh_public_key: "ssh-ed25519 AAAA", principals: ["node1"], expires: "2030-01-01T00:00:00Z" };
    expect(HostCertsRequestSchema.parse(v, "")).toEqual(v);
    expect(problem(HostCertsRequestSchema, { ...v, principals: "node1" })).toBe(
      "principals must be an array, got a string",
    );
    expect(problem(HostCertsRequestSchema, { ...v, principals: null })).toBe("principals is required");
  });
  test("NodeHeartbeat: labels a bounded string map", () => {
    const v = { name: "node1", addr: "10.0.0.5:22", labels: { env: "prod" } };
    expect(NodeHeartbeatSchema.parse(v, "")).toEqual(v);
    expect(problem(NodeHeartbeatSchema, { ...v, labels: { env: 1 } })).toBe(
      "labels.env must be a string, got a number",
    );
    expect(problem(NodeHeartbeatSchema, { ...v, labels: [] })).toBe("labels must be an object, got an array");
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, "v"]));
    expect(problem(NodeHeartbeatSchema, { ...v, labels: many })).toBe(
      "labels must have at most 64 entries, got 65",
    );
  });
  test("BotHeartbeat", () => {
    const v = {
      is_startup: true,
      hostname: "h",
      version: "1",
      uptime_seconds: 3,
      one_shot: false,
      architecture: "x64",
      os: "linux",
    };
    expect(BotHeartbeatSchema.parse(v, "")).toEqual(v);
    expect(problem(BotHeartbeatSchema, { ...v, uptime_seconds: "3" })).toBe(
      "uptime_seconds must be an integer, got a string",
    );
    expect(problem(BotHeartbeatSchema, { ...v, is_startup: "yes" })).toBe(
      "is_startup must be true or false, got a string",
    );
  });
  test("admin bodies: types, bounds, unknown fields refused", () => {
    expect(
      adminSchemas.create.parse(
        { resources: [{ kind: "bot", metadata: { name: "b" }, spec: {} }], upsert: true },
        "",
      ),
    ).toEqual({
      resources: [{ kind: "bot", metadata: { name: "b" }, spec: {} }],
      upsert: true,
    });
    expect(problem(adminSchemas.create, { resources: [null] })).toBe(
      "resources[0] must be an object, got null",
    );
    expect(problem(adminSchemas.create, { resources: [{ kind: "role", pad: 1 }] })).toBe(
      "resources[0].metadata is required",
    );
    expect(problem(adminSchemas.create, { resources: [{ kind: 7, metadata: {} }] })).toBe(
      "resources[0].kind must be a string, got a number",
    );
    expect(problem(adminSchemas.create, { resources: "bot" })).toBe(
      "resources must be an array, got a string",
    );
    expect(problem(adminSchemas.create, { upsert: "yes" })).toBe(
      "upsert must be true or false, got a string",
    );
    expect(problem(adminSchemas.botsAdd, { name: "b", roles: [{}] })).toBe(
      "roles[0] must be a string, got an object",
    );
    expect(problem(adminSchemas.get, { kind: "bot", nme: "x" })).toBe(
      'unknown field "nme" (expected kind, name, bot, limit, start_after)',
    );
    expect(problem(adminSchemas.delete, { kind: "token", name: "n".repeat(513) })).toBe(
      "name must be at most 512 characters, got 513",
    );
    expect(adminSchemas.status.parse({}, "")).toEqual({});
  });
});

describe("parseJsonBounded", () => {
  test("nesting up to 64 is parsed; 65 and a 100,000-deep array are refused before parsing", () => {
    expect(parseJsonBounded(`${"[".repeat(64)}${"]".repeat(64)}`)).toBeArray();
    const msg = "request body is nested deeper than 64 levels of arrays and objects";
    expect(() => parseJsonBounded(`${"[".repeat(65)}${"]".repeat(65)}`)).toThrow(msg);
    expect(() => parseJsonBounded(`${"[".repeat(100_000)}${"]".repeat(100_000)}`)).toThrow(msg);
    expect(() => parseJsonBounded(`${'{"a":'.repeat(100_000)}1${"}".repeat(100_000)}`)).toThrow(msg);
  });
  test("brackets inside strings (and escaped quotes) do not count", () => {
    const s = JSON.stringify({ a: "[[[[[[".repeat(100), b: '\\"[[[' });
    expect(parseJsonBounded(s, 2)).toEqual(JSON.parse(s));
  });
  test("invalid JSON is a 400", () => {
    try {
      parseJsonBounded("{nope");
      throw new Error("accepted");
    } catch (e) {
      expect(e).toBeInstanceOf(SchemaError);
      expect((e as Error).message).toStartWith("request body is not valid JSON");
    }
  });
});
