// The github, gitlab and kubernetes join methods on the compiled binary: a loopback HTTPS OIDC
// issuer (test/harness/oidc-issuer.ts) plays GitHub Actions, GitLab and a Kubernetes cluster;
// tauth trusts it through SSL_CERT_FILE; tbot joins one-shot with each platform's environment
// (the Actions token service, $TBOT_GITLAB_JWT, a projected token file) and its certificate is
// checked with openssl. Then the denials (one line each, nothing written), the reference's own
// token examples (test/vectors/join-tokens/), and a daemon that re-joins instead of renewing.

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tbotBin } from "../harness/binary.ts";
import { botYaml, tctlCreate } from "../harness/bound-keypair.ts";
import { expectOneErrorLine } from "../harness/extra.ts";
import { type OidcIssuer, startOidcIssuer } from "../harness/oidc-issuer.ts";
import { cleanupAfterFile, type RunResult, run, startProcess, tempDir } from "../harness/proc.ts";
import { startTauth, type TauthHandle } from "../harness/tauth.ts";

cleanupAfterFile();
setDefaultTimeout(60_000);

let auth: TauthHandle;
let work: string;
let gh: OidcIssuer; // github.com's issuer (TAUTH_GITHUB_ISSUER_URL) and the Actions token service
let ghes: OidcIssuer; // a GitHub Enterprise Server: https://<host>/_services/token
let gl: OidcIssuer; // a self-hosted GitLab: https://<domain>
let k8s: OidcIssuer; // a cluster's service-account issuer
let down: OidcIssuer; // an issuer whose keys cannot be fetched
let bundle: string;
const saved: Record<string, string | undefined> = {};

function setEnv(k: string, v: string) {
  saved[k] = process.env[k];
  process.env[k] = v;
}

beforeAll(async () => {
  work = tempDir("join-oidc-");
  [gh, ghes, gl, k8s, down] = await Promise.all([
    startOidcIssuer(),
    startOidcIssuer({ issuerPath: "/_services/token" }),
    startOidcIssuer({ jwksPath: "/oauth/discovery/keys" }),
    startOidcIssuer({ jwksPath: "/openid/v1/jwks" }),
    startOidcIssuer({ jwksPath: "/openid/v1/jwks" }),
  ]);
  // One bundle with every harness CA: tauth fetches keys from all of them, tbot asks gh for tokens.
  bundle = join(work, "ca-bundle.pem");
  writeFileSync(bundle, [gh, ghes, gl, k8s, down].map((i) => readFileSync(i.caFile, "utf8")).join("\n"));
  // startTauth passes its own environment on: the issuer override and the trust bundle.
  setEnv("SSL_CERT_FILE", bundle);
  setEnv("TAUTH_GITHUB_ISSUER_URL", gh.issuer);
  auth = await startTauth({ clusterName: "oidc.test" });
});

afterAll(async () => {
  for (const [k, v] of Object.entries(saved))
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  await Promise.all([gh, ghes, gl, k8s, down].map((i) => i?.stop()));
});

const CLUSTER = "oidc.test";

function create(name: string, yaml: string) {
  tctlCreate(auth, join(work, `${name}.yaml`), yaml);
}

let bots = 0;
/** A new bot (access role) and a token of `method` for it with `block` under spec. */
function botWithToken(method: string, block: string): string {
  const name = `${method}-${++bots}`;
  create(`${name}-bot`, botYaml(name));
  create(
    `${name}-token`,
    `kind: token\nversion: v2\nmetadata:\n  name: ${name}\nspec:\n  roles: [Bot]\n  bot_name: ${name}\n  join_method: ${method}\n${block}`,
  );
  return name;
}

/**
 * A process run to its end without blocking this one: the issuers live in this process, and
 * run() (spawnSync) would stall them while tbot and tauth wait on their answers.
 */
async function runAsync(cmd: string[], env: Record<string, string> = {}): Promise<RunResult> {
  const p = Bun.spawn(cmd, {
    env: { ...process.env, ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(p.stdout).text(),
    new Response(p.stderr).text(),
    p.exited,
  ]);
  return { code, stdout, stderr };
}

/** `tbot start --oneshot` joining with `method` and `token`; env on top of the test's. */
async function oneShot(
  method: string,
  token: string,
  env: Record<string, string> = {},
  extra: string[] = [],
) {
  const dir = tempDir("tbot-");
  const data = join(dir, "data");
  const dest = join(dir, "out");
  const r = await runAsync(
    [
      tbotBin,
      "start",
      "--auth-server",
      auth.addr,
      "--ca-pin",
      auth.pin,
      "--join-method",
      method,
      "--token",
      token,
      "--data-dir",
      data,
      "--destination-dir",
      dest,
      "--oneshot",
      ...extra,
    ],
    env,
  );
  return { r, dest, data };
}

function verified(dest: string): string {
  const v = run(["openssl", "verify", "-CAfile", join(dest, "teleport-user-ca.crt"), join(dest, "tlscert")]);
  return v.stdout + v.stderr;
}

type OneShot = Awaited<ReturnType<typeof oneShot>>;

function expectJoined(o: OneShot) {
  if (o.r.code !== 0) throw new Error(`tbot failed: ${o.r.stderr}`);
  expect(existsSync(join(o.dest, "tlscert"))).toBe(true);
  expect(verified(o.dest)).toContain(": OK");
}

/** One error line naming what failed; nothing in the destination. */
function expectDenied(o: OneShot, what: RegExp): string {
  const line = expectOneErrorLine(o.r);
  expect(line).toMatch(what);
  const out = existsSync(o.dest) ? readdirSync(o.dest) : [];
  expect(out).toEqual([]);
  return line;
}

function audit(event: string, token: string) {
  return auth.auditLog().filter((e) => e.event === event && e.token === token);
}

/** The environment of a GitHub Actions job (octo-org/octo-repo on refs/heads/main). */
function actionsJob() {
  return { ...gh.actionsEnv };
}

const ghBlock = (rule: string) => `  github:\n    allow:\n      - ${rule}\n`;
const glBlock = (rule: string, domain = gl.origin.replace("https://", "")) =>
  `  gitlab:\n    domain: "${domain}"\n    allow:\n      - ${rule}\n`;
const jwksOf = async (i: OidcIssuer) =>
  await (await fetch(i.jwksUri, { tls: { ca: i.ca.caPem } } as RequestInit)).text();
const k8sJwksBlock = (jwks: string, sa = "ci:tbot") =>
  `  kubernetes:\n    type: static_jwks\n    static_jwks:\n      jwks: '${jwks}'\n    allow:\n      - service_account: "${sa}"\n`;
const k8sOidcBlock = (issuer: string, sa = "ci:tbot") =>
  `  kubernetes:\n    type: oidc\n    oidc:\n      issuer: ${issuer}\n    allow:\n      - service_account: "${sa}"\n`;

function tokenFile(jwt: string): string {
  const p = join(tempDir("sa-"), "token");
  writeFileSync(p, `${jwt}\n`);
  return p;
}

describe("github", () => {
  test("a GitHub Actions job joins: token from the Actions service with aud = cluster name", async () => {
    const token = botWithToken("github", ghBlock("repository: octo-org/octo-repo"));
    const before = gh.actionsRequests.length;
    const o = await oneShot("github", token, actionsJob());
    expectJoined(o);
    const asked = gh.actionsRequests.slice(before);
    expect(asked.map((a) => [a.audience, a.authorized, a.status])).toEqual([[CLUSTER, true, 200]]);
    const ev = audit("github.join", token);
    expect(ev).toHaveLength(1);
    expect(ev[0]).toMatchObject({ rule_index: 0, sub: "repo:octo-org/octo-repo:ref:refs/heads/main" });
    expect(JSON.stringify(auth.auditLog())).not.toContain(gh.actionsEnv.ACTIONS_ID_TOKEN_REQUEST_TOKEN);
  });

  test("wrong repository: denied naming repository, nothing written", async () => {
    const token = botWithToken("github", ghBlock("repository: octo-org/other"));
    const line = expectDenied(
      await oneShot("github", token, actionsJob()),
      /repository "octo-org\/octo-repo" does not match/,
    );
    expect(line).toContain('"octo-org/other"');
  });

  test("outside GitHub Actions: one line saying what is missing", async () => {
    const token = botWithToken("github", ghBlock("repository: octo-org/octo-repo"));
    expectDenied(
      await oneShot("github", token, {
        ACTIONS_ID_TOKEN_REQUEST_URL: "",
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: "",
      }),
      /ACTIONS_ID_TOKEN_REQUEST_URL/,
    );
  });

  test("GHES (enterprise_server_host = the harness) with its keys fetched, and pinned (static_jwks)", async () => {
    const host = ghes.origin.replace("https://", "");
    const fetched = botWithToken(
      "github",
      `  github:\n    enterprise_server_host: "${host}"\n    allow:\n      - repository_owner: octo-org\n`,
    );
    const jwt = await ghes.github({ aud: CLUSTER });
    // The Actions service of this "GHES" is gh's; hand tbot a job whose service returns ghes's token.
    const svc = await tokenService(jwt);
    expectJoined(await oneShot("github", fetched, svc.env));
    const pinned = botWithToken(
      "github",
      `  github:\n    enterprise_server_host: "${host}"\n    static_jwks: '${await jwksOf(ghes)}'\n    allow:\n      - repository_owner: octo-org\n`,
    );
    expectJoined(
      await oneShot("github", pinned, (await tokenService(await ghes.github({ aud: CLUSTER }))).env),
    );
  });
});

/** A GitHub-Actions-like token service that answers `jwt` (for tokens of another issuer). */
const services: { stop(): void }[] = [];
async function tokenService(jwt: string) {
  const srv = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    tls: { key: gh.ca.keyPem, cert: gh.ca.certPem },
    fetch: () => Response.json({ value: jwt }),
  });
  services.push({ stop: () => srv.stop(true) });
  return {
    env: {
      ACTIONS_ID_TOKEN_REQUEST_URL: `https://127.0.0.1:${srv.port}/idtoken?api-version=2.0`,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: "t",
    },
  };
}
afterAll(() => {
  for (const s of services) s.stop();
});

describe("gitlab", () => {
  test("a GitLab CI job joins with $TBOT_GITLAB_JWT (self-hosted domain = the harness)", async () => {
    const token = botWithToken("gitlab", glBlock("project_path: my-group/*"));
    const o = await oneShot("gitlab", token, { TBOT_GITLAB_JWT: await gl.gitlab({ aud: CLUSTER }) });
    expectJoined(o);
    expect(audit("gitlab.join", token)[0]).toMatchObject({
      rule_index: 0,
      sub: "project_path:my-group/my-project:ref_type:branch:ref:main",
    });
  });

  test("onboarding.gitlab.token_env_var_name names another variable", async () => {
    const token = botWithToken("gitlab", glBlock("namespace_path: my-group"));
    const dir = tempDir("gl-");
    const cfg = join(dir, "tbot.yaml");
    writeFileSync(
      cfg,
      [
        "version: v2",
        `auth_server: ${auth.addr}`,
        "oneshot: true",
        "onboarding:",
        "  join_method: gitlab",
        `  token: ${token}`,
        `  ca_pins: ["${auth.pin}"]`,
        "  gitlab:",
        "    token_env_var_name: MY_JWT",
        "storage:",
        "  type: directory",
        `  path: ${join(dir, "data")}`,
        "outputs:",
        "  - type: identity",
        "    destination:",
        "      type: directory",
        `      path: ${join(dir, "out")}`,
        "",
      ].join("\n"),
    );
    const r = await runAsync([tbotBin, "start", "-c", cfg], { MY_JWT: await gl.gitlab({ aud: CLUSTER }) });
    if (r.code !== 0) throw new Error(r.stderr);
    expect(verified(join(dir, "out"))).toContain(": OK");
  });

  test("wrong project: denied naming project_path", async () => {
    const token = botWithToken("gitlab", glBlock("project_path: other-group/*"));
    expectDenied(
      await oneShot("gitlab", token, { TBOT_GITLAB_JWT: await gl.gitlab({ aud: CLUSTER }) }),
      /project_path "my-group\/my-project" does not match any allow rule \(allowed patterns: "other-group\/\*"\)/,
    );
  });

  test("no $TBOT_GITLAB_JWT: one line naming the variable", async () => {
    const token = botWithToken("gitlab", glBlock("project_path: my-group/*"));
    expectDenied(
      await oneShot("gitlab", token, { TBOT_GITLAB_JWT: "" }),
      /\$TBOT_GITLAB_JWT, which is not set/,
    );
  });
});

describe("kubernetes", () => {
  test("static_jwks: a pod's projected token joins (KUBERNETES_TOKEN_PATH)", async () => {
    const token = botWithToken("kubernetes", k8sJwksBlock(await jwksOf(k8s)));
    const jwt = await k8s.kubernetes({ namespace: "ci", serviceAccount: "tbot", aud: [CLUSTER] });
    expectJoined(await oneShot("kubernetes", token, { KUBERNETES_TOKEN_PATH: tokenFile(jwt) }));
    expect(audit("kubernetes.join", token)[0]).toMatchObject({ sub: "system:serviceaccount:ci:tbot" });
  });

  test("oidc: the cluster issuer's keys by discovery", async () => {
    const token = botWithToken("kubernetes", k8sOidcBlock(k8s.issuer));
    const jwt = await k8s.kubernetes({ namespace: "ci", serviceAccount: "tbot", aud: [CLUSTER] });
    expectJoined(await oneShot("kubernetes", token, { KUBERNETES_TOKEN_PATH: tokenFile(jwt) }));
  });

  test("wrong service account: denied naming service_account", async () => {
    const token = botWithToken("kubernetes", k8sOidcBlock(k8s.issuer, "ci:deployer"));
    const jwt = await k8s.kubernetes({ namespace: "ci", serviceAccount: "tbot", aud: [CLUSTER] });
    expectDenied(
      await oneShot("kubernetes", token, { KUBERNETES_TOKEN_PATH: tokenFile(jwt) }),
      /service_account "ci:tbot" \(from "sub"\) does not match any allow rule \(allowed: "ci:deployer"\)/,
    );
  });

  test("type in_cluster is refused at tctl create in one line", () => {
    const path = join(work, "in-cluster.yaml");
    writeFileSync(
      path,
      'kind: token\nversion: v2\nmetadata:\n  name: kic\nspec:\n  roles: [Bot]\n  bot_name: x\n  join_method: kubernetes\n  kubernetes:\n    type: in_cluster\n    allow:\n      - service_account: "a:b"\n',
    );
    const r = auth.tctl(["create", path]);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/in-cluster\.yaml:10:\d+.*in_cluster.*not supported by this build/);
  });
});

describe("denials (one line naming what failed, nothing written)", () => {
  let token: string;
  const claims = { namespace: "ci", serviceAccount: "tbot", aud: [CLUSTER] };
  const k8sClaims = async () =>
    (await import("../harness/oidc-issuer.ts")).kubernetesClaims(k8s.issuer, claims);
  const deny = async (jwt: string, what: RegExp) =>
    expectDenied(await oneShot("kubernetes", token, { KUBERNETES_TOKEN_PATH: tokenFile(jwt) }), what);

  beforeAll(() => {
    token = botWithToken("kubernetes", k8sOidcBlock(k8s.issuer));
  });

  test("wrong audience", async () => {
    await deny(
      await k8s.kubernetes({ ...claims, aud: ["someone-else"] }),
      /"aud" .*does not include the expected audience "oidc\.test"/,
    );
  });
  test("expired", async () => {
    await deny(await k8s.badToken("expired", await k8sClaims()), /ID token expired: "exp"/);
  });
  test("not yet valid", async () => {
    await deny(
      await k8s.badToken("not-yet-valid", await k8sClaims()),
      /"(nbf|iat)" .* (is ahead|is in the future)/,
    );
  });
  test("bad signature", async () => {
    await deny(await k8s.badToken("bad-signature", await k8sClaims()), /signature does not verify/);
  });
  test("alg none", async () => {
    await deny(await k8s.badToken("alg-none", await k8sClaims()), /"alg" "none" is refused/);
  });
  test("HS256 keyed with the public key", async () => {
    await deny(
      await k8s.badToken("hs256-public-key", await k8sClaims()),
      /"alg" "HS256" is refused: symmetric/,
    );
  });
  test("unknown kid (after one refresh)", async () => {
    const before = k8s.jwksFetches;
    await deny(await k8s.badToken("unknown-kid", await k8sClaims()), /"kid" .* is not in the key set of/);
    expect(k8s.jwksFetches - before).toBeLessThanOrEqual(1);
  });
  test("issuer mismatch", async () => {
    await deny(
      await k8s.badToken("wrong-iss", await k8sClaims()),
      /"iss" "https:\/\/evil\.example\.test" does not match the expected issuer/,
    );
  });
  test("JWKS endpoint down: cannot reach issuer", async () => {
    const t = botWithToken("kubernetes", k8sOidcBlock(down.issuer));
    down.mode = "close";
    const jwt = await down.kubernetes(claims);
    // connection_problem, not a denial: the one-shot retries (WARN lines), then ends on one ERROR.
    const o = await oneShot("kubernetes", t, { KUBERNETES_TOKEN_PATH: tokenFile(jwt) });
    expect(o.r.code).toBe(1);
    const lines = o.r.stderr.trimEnd().split("\n");
    expect(lines.filter((l) => l.startsWith("ERROR: "))).toHaveLength(1);
    expect(lines.at(-1)).toMatch(/^ERROR: .*cannot reach issuer https:\/\/127\.0\.0\.1:\d+/);
    expect(existsSync(o.dest) ? readdirSync(o.dest) : []).toEqual([]);
    down.mode = "up";
  });
});

describe("a daemon re-joins with a fresh ID token instead of renewing", () => {
  test("github bot, 1 minute certificates, renewal every second", async () => {
    const token = botWithToken("github", ghBlock("repository: octo-org/octo-repo"));
    const dir = tempDir("gh-daemon-");
    const before = gh.actionsRequests.length;
    const bot = startProcess(
      [
        tbotBin,
        "start",
        "--auth-server",
        auth.addr,
        "--ca-pin",
        auth.pin,
        "--join-method",
        "github",
        "--token",
        token,
        "--data-dir",
        join(dir, "data"),
        "--destination-dir",
        join(dir, "out"),
        "--certificate-ttl",
        "1m",
        "--renewal-interval",
        "1s",
      ],
      { env: actionsJob() },
    );
    try {
      await bot.waitFor(/Renewed bot identity[\s\S]*Renewed bot identity/, 30_000);
    } finally {
      await bot.stop();
    }
    // Every refresh asked the Actions service for a new token and joined with it.
    expect(gh.actionsRequests.length - before).toBeGreaterThanOrEqual(3);
    const joins = audit("github.join", token);
    expect(joins.length).toBeGreaterThanOrEqual(3);
    // One bot instance throughout: the re-joins came over mTLS with the current identity.
    const instances = new Set(
      auth
        .auditLog()
        .filter((e) => e.event === "bot.join" && e.token === token)
        .map((e) => e.bot_instance_id),
    );
    expect(instances.size).toBe(1);
  });
});

describe("the reference's token examples (test/vectors/join-tokens/) create and join", () => {
  const vectors = join(import.meta.dir, "..", "vectors", "join-tokens");
  const made = new Set<string>();
  let n = 0;

  /** The example with only its fill-in-the-blanks replaced (README.md there lists them). */
  function fill(
    file: string,
    subs: [string | RegExp, string][],
  ): { yaml: string; name: string; bot: string } {
    let yaml = readFileSync(join(vectors, file), "utf8");
    for (const [from, to] of subs) yaml = yaml.replace(from, to);
    const name = `fx-${++n}`;
    yaml = yaml.replace(/^ {2}name: .*$/m, `  name: ${name}`);
    if (/roles: \[App\]/.test(yaml)) yaml = yaml.replace("roles: [App]", `roles: [Bot]\n  bot_name: fx-kube`);
    const bot = /bot_name: (\S+)/.exec(yaml)![1]!;
    if (!made.has(bot)) {
      create(`bot-${bot}`, botYaml(bot));
      made.add(bot);
    }
    return { yaml, name, bot };
  }
  const snip = async (i: OidcIssuer): Promise<[string, string]> => ['{"keys":[--snip--]}', await jwksOf(i)];
  const host = (i: OidcIssuer) => i.origin.replace("https://", "");

  test("github-spec.yaml: as written, refused (host and slug together); without the slug, joins", async () => {
    const { yaml, name } = fill("github-spec.yaml", [["ghes.example.com", host(ghes)], await snip(ghes)]);
    const path = join(work, `${name}.yaml`);
    writeFileSync(path, yaml);
    const refused = auth.tctl(["create", path]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr.trim().split("\n")).toHaveLength(1);
    expect(refused.stderr).toMatch(/enterprise_server_host and enterprise_slug cannot both be set/);
    create(name, yaml.replace(/^ {4}enterprise_slug: slug\n/m, ""));
    const jwt = await ghes.github({
      repository: "gravitational/teleport",
      repository_owner: "gravitational",
      workflow: "my-workflow",
      environment: "production",
      actor: "octocat",
      ref: "ref/heads/main",
      ref_type: "branch",
      sub: "repo:gravitational/example-repo:environment:production",
      aud: CLUSTER,
    });
    expectJoined(await oneShot("github", name, (await tokenService(jwt)).env));
  });

  test("github-actions-guide.yaml (github.com's issuer, here TAUTH_GITHUB_ISSUER_URL)", async () => {
    const { yaml, name } = fill("github-actions-guide.yaml", []);
    create(name, yaml);
    const jwt = await gh.github({ repository: "gravitational/example", aud: CLUSTER });
    expectJoined(await oneShot("github", name, (await tokenService(jwt)).env));
  });

  test("gitlab-guide.yaml and gitlab-spec.yaml (every allow field)", async () => {
    const guide = fill("gitlab-guide.yaml", [["domain: gitlab.example.com", `domain: "${host(gl)}"`]]);
    create(guide.name, guide.yaml);
    const jwt = await gl.gitlab({ project_path: "my-user/my-project", aud: CLUSTER });
    expectJoined(await oneShot("gitlab", guide.name, { TBOT_GITLAB_JWT: jwt }));

    const spec = fill("gitlab-spec.yaml", [["domain: gitlab.example.com", `domain: "${host(gl)}"`]]);
    create(spec.name, spec.yaml);
    const all = await gl.gitlab({
      project_path: "my-user/my-project",
      namespace_path: "my-user",
      pipeline_source: "web",
      environment: "production",
      ref_type: "branch",
      ref: "main",
      user_login: "octocat",
      user_email: "octo.cat@example.com",
      ref_protected: "true",
      environment_protected: "true",
      ci_config_sha: "ffffffffffffffffffffffffffffffffffffffff",
      ci_config_ref_uri: "gitlab.example.com/my-group/my-project//.gitlab-ci.yml@refs/heads/main",
      deployment_tier: "production",
      project_visibility: "public",
      aud: CLUSTER,
    });
    expectJoined(await oneShot("gitlab", spec.name, { TBOT_GITLAB_JWT: all }));
    // The same job on another ref fails the rule's ref (a glob field), named in one line.
    const other = await gl.gitlab({ project_path: "my-user/my-project", ref: "dev", aud: CLUSTER });
    expectDenied(
      await oneShot("gitlab", spec.name, { TBOT_GITLAB_JWT: other }),
      /does not match any allow rule/,
    );
  });

  test("kubernetes-jwks-spec.yaml and kubernetes-oidc-spec.yaml", async () => {
    const sa = { namespace: "namespace", serviceAccount: "serviceaccount", aud: [CLUSTER] };
    const jwks = fill("kubernetes-jwks-spec.yaml", [await snip(k8s)]);
    create(jwks.name, jwks.yaml);
    expectJoined(
      await oneShot("kubernetes", jwks.name, { KUBERNETES_TOKEN_PATH: tokenFile(await k8s.kubernetes(sa)) }),
    );
    const oidc = fill("kubernetes-oidc-spec.yaml", [
      ["https://oidc.eks.us-west-2.amazonaws.com/id/my-cluster", k8s.issuer],
    ]);
    create(oidc.name, oidc.yaml);
    expectJoined(
      await oneShot("kubernetes", oidc.name, { KUBERNETES_TOKEN_PATH: tokenFile(await k8s.kubernetes(sa)) }),
    );
  });

  test("kubernetes-in-cluster-spec.yaml: refused in one line (no TokenReview in this build)", () => {
    const { yaml, name } = fill("kubernetes-in-cluster-spec.yaml", []);
    const path = join(work, `${name}.yaml`);
    writeFileSync(path, yaml);
    const r = auth.tctl(["create", path]);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/:\d+:\d+.*type in_cluster .*not supported by this build/);
  });
});
