import { describe, expect, test } from "bun:test";
import {
  type BotResource,
  parseResources,
  type RoleResource,
  type TokenResource,
} from "../../../src/auth/resources/index.ts";
import {
  ed25519PublicKey,
  manufacturerCaPem,
  referenceBotYaml,
  referenceBoundKeypairTokenYaml,
  roleYaml,
  tpmTokenYaml,
} from "./fixtures.ts";

describe("parseResources: the reference's examples", () => {
  test("bot (§9.1) parses as written, status included", () => {
    const [bot] = parseResources(referenceBotYaml, "bot.yaml") as BotResource[];
    expect(bot).toEqual({
      kind: "bot",
      version: "v1",
      metadata: { name: "ci-runner", labels: {} },
      spec: {
        roles: ["access", "db-readonly"],
        traits: [{ name: "logins", values: ["root", "ubuntu"] }],
        max_session_ttl: "12h",
      },
      status: { user_name: "bot-ci-runner", role_name: "bot-ci-runner" },
    });
  });

  test("bound-keypair token (§5.1) with a pre-bound key", () => {
    const [token] = parseResources(
      referenceBoundKeypairTokenYaml(ed25519PublicKey),
      "t.yaml",
    ) as TokenResource[];
    expect(token!.spec).toEqual({
      roles: ["Bot"],
      join_method: "bound_keypair",
      bot_name: "my-bot",
      bound_keypair: {
        onboarding: { initial_public_key: ed25519PublicKey, must_register_before: "2025-12-01T00:00:00Z" },
        recovery: { mode: "standard", limit: 1 },
        rotate_after: "2025-10-01T00:00:00Z",
      },
    });
  });

  test("token (§9.3) header fields with pass-through blocks of other methods", () => {
    const yaml = `kind: token
version: v2
metadata:
  name: my-bot                     # secret for join_method=token; name otherwise
  expires: "2025-01-01T00:00:00Z"  # optional
spec:
  roles: [Bot]                     # must include Bot for bot tokens
  bot_name: my-bot                 # required iff roles includes Bot
  join_method: bound_keypair       # default "token" (or "ec2" when allow rules present, legacy)
  allow: []                        # IAM/EC2 rules: aws_account, aws_arn, aws_regions, aws_role
  aws_iid_ttl: 5m                  # ec2 only
  suggested_labels: {}             # agents only
  suggested_agent_matcher_labels: {}
  circleci: {organization_id: org-1, allow: [{project_id: p-1}]}
  bound_keypair:
    recovery: {mode: relaxed, limit: 3}
`;
    const [token] = parseResources(yaml, "t.yaml") as TokenResource[];
    expect(token!.metadata).toEqual({ name: "my-bot", expires: "2025-01-01T00:00:00Z" });
    expect(token!.spec.join_method).toBe("bound_keypair");
    expect(token!.spec.bound_keypair).toEqual({ onboarding: {}, recovery: { mode: "relaxed", limit: 3 } });
    // A block of a method this build does not implement is kept as written...
    expect(token!.spec.circleci).toEqual({ organization_id: "org-1", allow: [{ project_id: "p-1" }] });
    expect(token!.spec.aws_iid_ttl).toBe("5m");
    expect(token!.spec.suggested_labels).toEqual({});
    // ...while one of an implemented method (github) next to another join_method is refused.
    expect(() =>
      parseResources(
        yaml.replace(
          "circleci: {organization_id: org-1, allow: [{project_id: p-1}]}",
          "github: {allow: [{repository: org/repo}]}",
        ),
        "t.yaml",
      ),
    ).toThrow(/spec\.github is only used with join_method: github, but join_method is "bound_keypair"/);
  });

  test("the JSON that `tctl get --format=json` prints (§9.3) re-applies as written", () => {
    const json = `[
  {
    "kind": "token",
    "version": "v2",
    "metadata": {"name": "my-bot", "revision": "..."},
    "spec": {
      "roles": ["Bot"],
      "join_method": "bound_keypair",
      "bot_name": "my-bot",
      "bound_keypair": {
        "onboarding": {"registration_secret": "", "initial_public_key": "", "must_register_before": null},
        "recovery": {"limit": 1, "mode": "standard"}
      }
    },
    "status": {
      "bound_keypair": {
        "registration_secret": "0f3a...",
        "bound_public_key": "",
        "bound_bot_instance_id": "",
        "recovery_count": 0,
        "last_recovered_at": null
      }
    }
  }
]`;
    const [token] = parseResources(json, "t.json") as TokenResource[];
    expect(token!.metadata).toEqual({ name: "my-bot", revision: "..." });
    // Empty strings and nulls mean "unset", so the key/secret exclusivity does not trip.
    expect(token!.spec.bound_keypair).toEqual({ onboarding: {}, recovery: { mode: "standard", limit: 1 } });
    expect(token!.status?.bound_keypair?.registration_secret).toBe("0f3a...");
  });

  test("TPM token in the seed form, with a real manufacturer CA", () => {
    const [token] = parseResources(tpmTokenYaml(), "tpm.yaml") as TokenResource[];
    expect(token!.spec.join_method).toBe("tpm");
    expect(token!.spec.tpm!.allow).toEqual([
      {
        description: "server-01",
        ek_public_hash: "d4b45864d9d6fabfc568d74f26c35ababde2105337d7af9a6605e1c56c891aa6",
      },
      { description: "server-02", ek_certificate_serial: "73:df:dc:bd:af:ef:8a:d8:15:2e:96:71:7a:3e:7f:a4" },
    ]);
    expect(token!.spec.tpm!.ekcert_allowed_cas).toEqual([`${manufacturerCaPem}\n`]);
  });

  test("role with logins, node_labels, pass-through rules and options", () => {
    const [role] = parseResources(roleYaml, "role.yaml") as RoleResource[];
    expect(role).toEqual({
      kind: "role",
      version: "v7",
      metadata: { name: "dev-ssh", description: "SSH to dev machines" },
      spec: {
        allow: {
          logins: ["{{internal.logins}}", "ubuntu"],
          node_labels: { env: "dev", team: ["infra", "platform"] },
          rules: [{ resources: ["event"], verbs: ["list", "read"] }],
        },
        deny: { logins: ["root"] },
        options: { max_session_ttl: "8h", forward_agent: true },
      },
    });
  });
});

describe("parseResources: defaults and normalisation", () => {
  test("several documents separated by ---, comments and empty documents skipped", () => {
    const text = `# resources for CI\n---\n${referenceBotYaml}---\n${roleYaml}---\n# nothing here\n---\n${tpmTokenYaml()}`;
    expect(parseResources(text, "all.yaml").map((r) => `${r.kind}/${r.metadata.name}`)).toEqual([
      "bot/ci-runner",
      "role/dev-ssh",
      "token/my-bot-token",
    ]);
  });

  test("join_method defaults to token, or ec2 when AWS allow rules are present", () => {
    const head = "kind: token\nversion: v2\nmetadata: {name: abc123}\nspec:\n  roles: [Node]\n";
    const [plain] = parseResources(head, "t.yaml") as TokenResource[];
    expect(plain!.spec.join_method).toBe("token");
    const [aws] = parseResources(`${head}  allow: [{aws_account: "123"}]\n`, "t.yaml") as TokenResource[];
    expect(aws!.spec.join_method).toBe("ec2");
  });

  test("an empty bound_keypair block gets standard recovery with limit 1", () => {
    const yaml =
      "kind: token\nversion: v2\nmetadata: {name: b}\nspec:\n  roles: [Bot]\n  bot_name: b\n  join_method: bound_keypair\n";
    const [token] = parseResources(yaml, "t.yaml") as TokenResource[];
    expect(token!.spec.bound_keypair).toEqual({ onboarding: {}, recovery: { mode: "standard", limit: 1 } });
  });

  test("system roles are matched case-insensitively and stored canonically", () => {
    const yaml = "kind: token\nversion: v2\nmetadata: {name: b}\nspec:\n  roles: [bot]\n  bot_name: b\n";
    const [token] = parseResources(yaml, "t.yaml") as TokenResource[];
    expect(token!.spec.roles).toEqual(["Bot"]);
  });

  test("a bot without spec, and max_session_ttl 0 (meaning default), are accepted", () => {
    const [bare] = parseResources("kind: bot\nversion: v1\nmetadata: {name: b}\n", "b.yaml") as BotResource[];
    expect(bare!.spec).toEqual({ roles: [], traits: [] });
    const [zero] = parseResources(
      "kind: bot\nversion: v1\nmetadata: {name: b}\nspec: {max_session_ttl: 0}\n",
      "b.yaml",
    );
    expect((zero as BotResource).spec.max_session_ttl).toBeUndefined();
  });

  test("metadata.namespace default (older Teleport exports) is accepted and dropped", () => {
    const [role] = parseResources(
      "kind: role\nversion: v3\nmetadata: {name: r, namespace: default}\n",
      "r.yaml",
    );
    expect(role!.metadata).toEqual({ name: "r" });
  });

  test("every documented role version v3..v8 is accepted", () => {
    for (const v of ["v3", "v4", "v5", "v6", "v7", "v8"])
      expect(parseResources(`kind: role\nversion: ${v}\nmetadata: {name: r}\n`, "r.yaml")[0]!.version).toBe(
        v,
      );
  });
});
