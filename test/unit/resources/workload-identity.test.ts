// kind: workload_identity: parsing and its refusals, SPIFFE ID rules, templates, rules, and
// role access by workload_identity_labels.

import { describe, expect, test } from "bun:test";
import {
  MissingAttributeError,
  parseResources,
  type RoleResource,
  renderTemplate,
  rulesProblem,
  spiffePathProblem,
  trustDomainOf,
  trustDomainProblem,
  type WorkloadIdentityResource,
  workloadAttributesRead,
  workloadIdentityAccessProblem,
} from "../../../src/auth/resources/index.ts";

const parse = (yaml: string) => parseResources(yaml, "wi.yaml");

const full = `kind: workload_identity
version: v1
metadata:
  name: ci-deployer
  labels:
    env: prod
spec:
  rules:
    allow:
      - conditions:
          - attribute: join.github.repository
            eq:
              value: acme/app
          - attribute: workload.unix.uid
            in:
              values: ["1000", "1001"]
      - conditions:
          - attribute: user.bot_name
            not_eq:
              value: blocked
          - attribute: join.meta.join_method
            not_in:
              values: [token]
  spiffe:
    id: /gh/{{ join.github.repository }}/uid/{{ workload.unix.uid }}
    hint: deployer
    x509:
      dns_sans: ["{{ user.bot_name }}.svc.example.com"]
      subject_template:
        common_name: "{{ user.bot_name }}"
        organization: acme
      maximum_ttl: 12h
    jwt:
      extra_claims:
        repo: "{{ join.github.repository }}"
        nested: { list: ["a", "{{ user.bot_name }}"] }
      maximum_ttl: 5m
`;

function wi(
  spec: Partial<WorkloadIdentityResource["spec"]>,
  labels = { env: "prod" },
): WorkloadIdentityResource {
  return {
    kind: "workload_identity",
    version: "v1",
    metadata: { name: "w", labels },
    spec: { spiffe: { id: "/x" }, ...spec },
  };
}

function role(allow: RoleResource["spec"]["allow"], deny: RoleResource["spec"]["deny"] = {}): RoleResource {
  return { kind: "role", version: "v7", metadata: { name: "r" }, spec: { allow, deny, options: {} } };
}

describe("kind workload_identity: parsing", () => {
  test("a complete resource loads as written", () => {
    const [r] = parse(full) as WorkloadIdentityResource[];
    expect(r!.kind).toBe("workload_identity");
    expect(r!.spec.spiffe.id).toBe("/gh/{{ join.github.repository }}/uid/{{ workload.unix.uid }}");
    expect(r!.spec.spiffe.x509?.subject_template?.common_name).toBe("{{ user.bot_name }}");
    expect(r!.spec.spiffe.jwt?.maximum_ttl).toBe("5m");
    expect(r!.spec.rules?.allow?.[0]?.conditions?.[1]).toEqual({
      attribute: "workload.unix.uid",
      in: { values: ["1000", "1001"] },
    });
    expect(r!.metadata.labels).toEqual({ env: "prod" });
  });

  const bad = (id: string) =>
    `kind: workload_identity\nversion: v1\nmetadata: {name: w}\nspec:\n  spiffe:\n    id: "${id}"\n`;

  test("an invalid SPIFFE path is refused at create, with the position and the rule", () => {
    expect(() => parse(bad("no-slash"))).toThrow(/wi.yaml:6:.*must start with "\/"/);
    expect(() => parse(bad("/a//b"))).toThrow(/empty segment/);
    expect(() => parse(bad("/a/../b"))).toThrow(/"\.\." segment/);
    expect(() => parse(bad("/a/b/"))).toThrow(/must not end with "\/"/);
    expect(() => parse(bad("/a b"))).toThrow(/outside \[A-Za-z0-9._-\]/);
    expect(() => parse(bad("/a/{{ user.bot_name }}é"))).toThrow(/outside/);
  });

  test("a template naming an unknown namespace or malformed is refused", () => {
    expect(() => parse(bad("/a/{{ foo.bar }}"))).toThrow(
      /unknown attribute namespace "foo" \(known: join, workload, user\)/,
    );
    expect(() => parse(bad("/a/{{ user }}"))).toThrow(/names a namespace, not an attribute/);
    expect(() => parse(bad("/a/{{ user.x"))).toThrow(/unbalanced/);
  });

  test("conditions need one operator; reserved JWT claims and expressions are refused", () => {
    const cond = (c: string) =>
      `kind: workload_identity\nversion: v1\nmetadata: {name: w}\nspec:\n  rules:\n    allow:\n      - conditions:\n          - ${c}\n  spiffe: {id: /a}\n`;
    expect(() => parse(cond("attribute: user.name"))).toThrow(/exactly one of eq, not_eq, in, not_in/);
    expect(() => parse(cond("{attribute: user.name, eq: {value: a}, in: {values: [b]}}"))).toThrow(
      /exactly one/,
    );
    expect(() => parse(cond("{attribute: nope.x, eq: {value: a}}"))).toThrow(
      /unknown attribute namespace "nope"/,
    );
    expect(() =>
      parse(
        `kind: workload_identity\nversion: v1\nmetadata: {name: w}\nspec:\n  spiffe:\n    id: /a\n    jwt:\n      extra_claims: {sub: x}\n`,
      ),
    ).toThrow(/reserved claim "sub"/);
    expect(() =>
      parse(
        `kind: workload_identity\nversion: v1\nmetadata: {name: w}\nspec:\n  spiffe: {id: /a}\n  rules:\n    allow:\n      - expression: "true"\n`,
      ),
    ).toThrow(/expressions are not supported/);
    expect(() => parse(`kind: workload_identity\nversion: v1\nmetadata: {name: w}\nspec: {}\n`)).toThrow(
      /spec.spiffe.id is required/,
    );
  });

  test("roles read workload_identity_labels", () => {
    const [r] = parse(
      `kind: role\nversion: v7\nmetadata: {name: r}\nspec:\n  allow:\n    workload_identity_labels:\n      env: [prod, dev]\n`,
    ) as RoleResource[];
    expect(r!.spec.allow.workload_identity_labels).toEqual({ env: ["prod", "dev"] });
  });
});

describe("SPIFFE IDs and trust domains", () => {
  test("path rules", () => {
    expect(spiffePathProblem("/a/b.c/d_e-f")).toBeUndefined();
    expect(spiffePathProblem("/")).toMatch(/empty/);
    expect(spiffePathProblem("/./a")).toMatch(/"\." segment/);
    expect(spiffePathProblem("/a%20")).toMatch(/outside/);
  });
  test("trust domain: the cluster name lowercased, other characters replaced", () => {
    expect(trustDomainOf("Example.COM")).toBe("example.com");
    expect(trustDomainOf("my cluster")).toBe("my-cluster");
    expect(trustDomainProblem("Example")).toMatch(/invalid/);
    expect(trustDomainProblem("example.com")).toBeUndefined();
  });
});

describe("templates and rules", () => {
  const attrs = {
    user: { bot_name: "ci", roles: ["a", "b"], traits: { team: ["x"] } },
    join: {
      github: { repository: "acme/app" },
      meta: { join_method: "github" },
      "kubernetes.io": { ns: "n" },
    },
    workload: { unix: { uid: 1000 } },
  };
  test("rendering numbers, dotted claim keys, and one-element lists", () => {
    expect(renderTemplate("/u/{{ workload.unix.uid }}/{{user.bot_name}}", attrs)).toBe("/u/1000/ci");
    expect(renderTemplate("{{ join.kubernetes.io.ns }}", attrs)).toBe("n");
    expect(renderTemplate("{{ user.traits.team }}", attrs)).toBe("x");
  });
  test("a missing attribute throws with its name", () => {
    try {
      renderTemplate("/u/{{ workload.unix.gid }}", attrs);
      throw new Error("no throw");
    } catch (e) {
      expect(e).toBeInstanceOf(MissingAttributeError);
      expect((e as MissingAttributeError).attribute).toBe("workload.unix.gid");
    }
    // A multi-valued attribute cannot fill one template slot.
    expect(() => renderTemplate("{{ user.roles }}", attrs)).toThrow(MissingAttributeError);
  });
  test("OR across rules, AND within; a missing attribute fails its condition", () => {
    const [r] = parse(full) as WorkloadIdentityResource[];
    expect(rulesProblem(r!, attrs)).toBeNull(); // rule 1 (repo and uid 1000)
    const other = { ...attrs, workload: { unix: { uid: 5 } } };
    expect(rulesProblem(r!, other)).toBeNull(); // rule 2: bot not "blocked", method not token
    const none = { ...other, join: { meta: { join_method: "token" } } };
    expect(rulesProblem(r!, none)).toBe(
      'no allow rule matched (rule 1: attribute join.github.repository is not set; rule 2: join.meta.join_method is "token", which is one of token)',
    );
    expect(rulesProblem(wi({}), {})).toBeNull(); // no rules: allowed
    const inList = wi({
      rules: { allow: [{ conditions: [{ attribute: "user.roles", in: { values: ["b"] } }] }] },
    });
    expect(rulesProblem(inList, attrs)).toBeNull(); // a list attribute matches if any value does
  });
});

describe("role access by workload_identity_labels", () => {
  test("allow by labels, deny wins, nothing by default", () => {
    expect(
      workloadIdentityAccessProblem([role({ workload_identity_labels: { env: "prod" } })], wi({})),
    ).toBeNull();
    expect(
      workloadIdentityAccessProblem([role({ workload_identity_labels: { "*": "*" } })], wi({})),
    ).toBeNull();
    expect(workloadIdentityAccessProblem([role({ app_labels: { env: "prod" } })], wi({}))).toBe(
      'no role grants workload_identity "w" (labels {env: prod}): add workload_identity_labels that match it to one of the bot\'s roles',
    );
    expect(
      workloadIdentityAccessProblem(
        [role({ workload_identity_labels: { "*": "*" } }, { workload_identity_labels: { env: "prod" } })],
        wi({}),
      ),
    ).toBe('role "r" denies workload_identity "w"');
    expect(
      workloadIdentityAccessProblem(
        [role({ workload_identity_labels: { "*": "*" } }, { workload_identity_labels_expression: "true" })],
        wi({}),
      ),
    ).toMatch(/not evaluated here/);
  });
});

describe("what an identity reads of the workload (workload_attributes_read)", () => {
  test("every workload.* attribute of its templates and rules, sorted, once each; nothing else", () => {
    const [wi] = parse(`kind: workload_identity
version: v1
metadata:
  name: reads
spec:
  rules:
    allow:
      - conditions:
          - attribute: workload.unix.gid
            eq: {value: "100"}
          - attribute: user.bot_name
            eq: {value: "b"}
  spiffe:
    id: /svc/{{ workload.unix.uid }}/{{ user.bot_name }}
    x509:
      dns_sans: ["{{ workload.unix.binary_path }}.example"]
      subject_template:
        common_name: "{{ workload.unix.uid }}"
    jwt:
      extra_claims:
        nested: {deep: ["x-{{ workload.unix.pid }}"]}
`) as WorkloadIdentityResource[];
    expect(workloadAttributesRead(wi!)).toEqual([
      "workload.unix.binary_path",
      "workload.unix.gid",
      "workload.unix.pid",
      "workload.unix.uid",
    ]);
  });

  test("an identity templated on the bot and its join only reads nothing of the workload", () => {
    const [wi] = parse(`kind: workload_identity
version: v1
metadata:
  name: bot-only
spec:
  spiffe:
    id: /bot/{{ user.bot_name }}/{{ join.meta.join_method }}
`) as WorkloadIdentityResource[];
    expect(workloadAttributesRead(wi!)).toEqual([]);
  });
});
