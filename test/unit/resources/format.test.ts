import { describe, expect, test } from "bun:test";
import { parseResources, type TokenResource } from "../../../src/auth/resources/index.ts";
import { formatResources } from "../../../src/cli/tctl-format.ts";
import { referenceBotYaml, roleYaml, tpmTokenYaml } from "./fixtures.ts";

const bkpToken: TokenResource = {
  kind: "token",
  version: "v2",
  metadata: { name: "my-bot", revision: "r1" },
  spec: {
    roles: ["Bot"],
    join_method: "bound_keypair",
    bot_name: "my-bot",
    bound_keypair: { onboarding: {}, recovery: { mode: "standard", limit: 1 } },
  },
  status: { bound_keypair: { registration_secret: "0f3a9c", bound_public_key: "", recovery_count: 0 } },
};

describe("formatResources json", () => {
  test("is always an array, and `.[0].status.bound_keypair.registration_secret` works", () => {
    const out = formatResources("token", [bkpToken], "json");
    expect(out.endsWith("]\n")).toBe(true);
    const parsed = JSON.parse(out);
    expect(Array.isArray(parsed)).toBe(true);
    expect(parsed[0].status.bound_keypair.registration_secret).toBe("0f3a9c");
    expect(parsed[0].status.bound_keypair.recovery_count).toBe(0);
    expect("bound_public_key" in parsed[0].status.bound_keypair).toBe(false);
    expect(formatResources("token", [], "json")).toBe("[]\n");
  });

  test("keys come in the reference's order", () => {
    const shuffled = {
      status: bkpToken.status,
      spec: bkpToken.spec,
      metadata: { revision: "r1", name: "my-bot" },
      version: "v2",
      kind: "token",
    };
    const parsed = JSON.parse(formatResources("token", [shuffled], "json"));
    expect(Object.keys(parsed[0])).toEqual(["kind", "version", "metadata", "spec", "status"]);
    expect(Object.keys(parsed[0].metadata)).toEqual(["name", "revision"]);
  });
});

describe("formatResources yaml", () => {
  test("round-trips through parseResources, several documents separated by ---", () => {
    const resources = parseResources(`${referenceBotYaml}---\n${roleYaml}---\n${tpmTokenYaml()}`, "in.yaml");
    const out = formatResources("mixed", resources, "yaml");
    expect(out.match(/^---$/gm)?.length).toBe(2);
    expect(out.startsWith("kind: bot\nversion: v1\nmetadata:\n  name: ci-runner\n")).toBe(true);
    const again = parseResources(out, "out.yaml");
    expect(again).toEqual(
      resources.map((r) => (r.kind === "bot" ? { ...r, metadata: { name: r.metadata.name } } : r)),
    );
  });

  test("empty fields are omitted, label values kept verbatim", () => {
    const out = formatResources(
      "role",
      [
        {
          kind: "role",
          version: "v3",
          metadata: { name: "r", description: "", labels: { tier: "" } },
          spec: { allow: { logins: ["root"], node_labels: {} }, deny: {}, options: {} },
        },
      ],
      "yaml",
    );
    expect(out).toBe(
      'kind: role\nversion: v3\nmetadata:\n  name: r\n  labels:\n    tier: ""\nspec:\n  allow:\n    logins:\n      - root\n    node_labels: {}\n',
    );
  });

  test("a bound-keypair token with status re-applies", () => {
    const [again] = parseResources(formatResources("token", [bkpToken], "yaml"), "t.yaml") as TokenResource[];
    expect(again!.spec).toEqual(bkpToken.spec);
    expect(again!.status?.bound_keypair?.registration_secret).toBe("0f3a9c");
  });
});

describe("formatResources text", () => {
  test("bots: Bot, User, Roles", () => {
    const bots = parseResources(referenceBotYaml, "b.yaml");
    expect(formatResources("bot", bots, "text")).toBe(
      "Bot       User          Roles\n" +
        "--------- ------------- ------------------\n" +
        "ci-runner bot-ci-runner access,db-readonly\n",
    );
  });

  test("tokens: names printed as given (the server masks secrets)", () => {
    const masked = {
      ...bkpToken,
      metadata: { name: "******" },
      spec: { roles: ["Bot"], join_method: "token", bot_name: "ci" },
    };
    const out = formatResources("tokens", [bkpToken, masked], "text").split("\n");
    expect(out[0]).toBe("Token  Type Join Method   Bot    Expiry Time (UTC)");
    expect(out[1]).toBe("------ ---- ------------- ------ -----------------");
    expect(out[2]).toBe("my-bot Bot  bound_keypair my-bot never");
    expect(out[3]).toBe("****** Bot  token         ci     never");
  });

  test("roles: logins and node labels", () => {
    const out = formatResources("role", parseResources(roleYaml, "r.yaml"), "text");
    expect(out).toBe(
      "Role    Allowed to login as        Node Labels\n" +
        "------- -------------------------- -----------------------------\n" +
        "dev-ssh {{internal.logins}},ubuntu env=dev,team=[infra platform]\n",
    );
  });

  test("bot instances, nodes and locks", () => {
    const instance = {
      kind: "bot_instance",
      version: "v1",
      metadata: { name: "3b1e" },
      spec: { bot_name: "ci", instance_id: "3b1e" },
      status: {
        initial_authentication: {
          authenticated_at: "2025-01-01T00:00:00Z",
          join_method: "token",
          generation: 1,
        },
        latest_authentications: [
          { authenticated_at: "2025-01-02T00:00:00Z", join_method: "token", generation: 7 },
        ],
      },
    };
    expect(formatResources("bot_instance", [instance], "text").split("\n")[2]).toBe(
      "ci  3b1e        token       7          2025-01-02T00:00:00Z",
    );
    const node = {
      kind: "node",
      metadata: { name: "n1", labels: { env: "prod" } },
      spec: { hostname: "web-1", addr: "10.0.0.5:22" },
    };
    expect(formatResources("node", [node], "text").split("\n")[2]).toBe("web-1 10.0.0.5:22 env=prod");
    const lock = {
      kind: "lock",
      metadata: { name: "l1" },
      spec: { target: { user: "bot-ci" }, message: "stolen", created_at: "2025-01-01T00:00:00Z" },
    };
    expect(formatResources("lock", [lock], "text")).toBe(
      "ID Target      Message Created              Expires\n" +
        "-- ----------- ------- -------------------- -------\n" +
        "l1 user=bot-ci stolen  2025-01-01T00:00:00Z never\n",
    );
  });

  test("other kinds fall back to Kind and Name; an empty list prints the header", () => {
    expect(formatResources("user", [{ kind: "user", metadata: { name: "alice" } }], "text")).toBe(
      "Kind Name\n---- -----\nuser alice\n",
    );
    expect(formatResources("bot", [], "text")).toBe("Bot User Roles\n--- ---- -----\n");
  });
});
