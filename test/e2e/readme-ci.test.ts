// README "CI and platform joining", GitHub Actions: the workflow step runs as written, with only
// the endpoints changed. The step's `run:` script is taken from README.md and run by bash the way
// the runner runs it (`bash --noprofile --norc -eo pipefail`), with RUNNER_TEMP and the Actions
// runtime's ACTIONS_ID_TOKEN_REQUEST_URL / _TOKEN in its environment. Its `docker run` reaches a
// `docker` on PATH that runs the image with `runc` (umoci-unpacked from the OCI archive
// scripts/container.ts builds), honouring exactly the flags the step uses (--rm, --user, -e,
// -v) and refusing any other.
//
// The endpoints: tauth is a local one (its address and CA pin replace auth.example.com:3025 and
// sha256:<pin>); GitHub is test/harness/oidc-issuer.ts, both as the Actions runtime's token
// endpoint and as the issuer tauth verifies against (TAUTH_GITHUB_ISSUER_URL, SSL_CERT_FILE). The
// harness's CA is added to the image's CA bundle (bind-mounted over it) because the harness
// stands in for GitHub's publicly trusted endpoint. The container shares the host's network, as
// tauth listens on loopback. The bot and the token are the README's YAML, created as written.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { buildContainer, type ContainerBuild } from "../../scripts/container.ts";
import { root, tbotBin } from "../harness/binary.ts";
import { type OidcIssuer, startOidcIssuer } from "../harness/oidc-issuer.ts";
import { cleanupAfterFile, type RunResult, run, tempDir } from "../harness/proc.ts";
import { startTauth, type TauthHandle } from "../harness/tauth.ts";

cleanupAfterFile();

const identityFiles = ["identity", "key", "key.pub", "key-cert.pub", "tlscert", "teleport-host-ca.crt"];

/** The fenced blocks of README.md's "### " section whose title starts with `title`. */
function sectionBlocks(markdown: string, title: string): { lang: string; text: string }[] {
  const start = markdown.indexOf(`\n### ${title}`);
  if (start < 0) throw new Error(`README has no "### ${title}" section`);
  const rest = markdown.slice(start + 1);
  const next = rest.slice(4).search(/^##{1,2} /m);
  const body = next < 0 ? rest : rest.slice(0, next + 4);
  return [...body.matchAll(/^```(\S*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1]!, text: m[2]! }));
}

/** The `run: |` script of the workflow step named `step`, dedented. */
function stepScript(workflow: string, step: string): string {
  const lines = workflow.split("\n");
  const at = lines.findIndex((l) => l.includes(`- name: ${step}`));
  if (at < 0) throw new Error(`no step "${step}"`);
  const runAt = lines.findIndex((l, i) => i > at && /^\s+run: \|\s*$/.test(l));
  const indent = /^(\s*)/.exec(lines[runAt]!)![1]!.length;
  const body: string[] = [];
  for (const l of lines.slice(runAt + 1)) {
    if (l.trim() && /^(\s*)/.exec(l)![1]!.length <= indent) break;
    body.push(l);
  }
  const pad = Math.min(...body.filter((l) => l.trim()).map((l) => /^(\s*)/.exec(l)![1]!.length));
  return `${body.map((l) => l.slice(pad)).join("\n")}\n`;
}

const readme = readFileSync(join(root, "README.md"), "utf8");
const blocks = sectionBlocks(readme, "CI and platform joining");
const workflow = blocks.find((b) => b.lang === "yaml" && b.text.includes("--join-method=github"))?.text ?? "";
const resources = blocks.find((b) => b.lang === "yaml" && b.text.includes("join_method: github"))?.text ?? "";
const STEP = "Machine ID credentials (tbot one-shot, github join)";

// `docker run` → runc, for exactly the flags the README's step uses. Configured through SHIM_*
// variables (the runner's own environment is passed through to -e as docker does).
const dockerShim = `
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
const [cmd, ...argv] = process.argv.slice(2);
const fail = (m) => { console.error("docker shim: " + m); process.exit(125); };
if (cmd !== "run") fail("only 'docker run' is supported, got " + cmd);
const env = [], mounts = [];
let user, image, i = 0;
for (; i < argv.length; i++) {
  const a = argv[i];
  if (a === "--rm") continue;
  else if (a === "--user") user = argv[++i];
  else if (a === "-e") { const n = argv[++i]; if (process.env[n] !== undefined) env.push(n + "=" + process.env[n]); }
  else if (a === "-v") { const [src, dst] = argv[++i].split(":"); mounts.push({ destination: dst, type: "bind", source: src, options: ["rbind", "rw"] }); }
  else if (a.startsWith("-")) fail("flag not supported by this test's docker: " + a);
  else { image = a; i++; break; }
}
if (!/^ghcr\\.io\\/example\\/tbot:[0-9.]+$/.test(image ?? "")) fail("unknown image " + image);
if (!/^[0-9]+$/.test(user ?? "")) fail("--user must be a uid, got " + user);
const bundle = process.env.SHIM_BUNDLE;
const spec = JSON.parse(readFileSync(join(bundle, "config.pristine.json"), "utf8"));
spec.process.terminal = false;
spec.process.user = { uid: Number(user), gid: Number(user) };
spec.process.env.push(...env);
spec.process.args = [spec.process.args[0], ...argv.slice(i)];
spec.linux.namespaces = spec.linux.namespaces.filter((n) => n.type !== "network");
spec.mounts.push(...mounts, { destination: "/etc/ssl/certs/ca-certificates.crt", type: "bind", source: process.env.SHIM_CA_BUNDLE, options: ["bind", "ro"] });
writeFileSync(join(bundle, "config.json"), JSON.stringify(spec));
const id = "tbot-readme-ci-" + process.pid;
const p = Bun.spawnSync(["runc", "--root", process.env.SHIM_RUNC_ROOT, "run", "--bundle", bundle, id], { stdio: ["ignore", "inherit", "inherit"], timeout: 60000 });
if (p.exitCode === null) Bun.spawnSync(["runc", "--root", process.env.SHIM_RUNC_ROOT, "delete", "--force", id]);
process.exit(p.exitCode ?? 124);
`;

let auth: TauthHandle;
let issuer: OidcIssuer;
let work: string;
let b: ContainerBuild;
let bundle: string;
let script: string;

beforeAll(async () => {
  work = tempDir("readme-ci-");
  issuer = await startOidcIssuer({
    // The claims GitHub would put in a token for a push to main of the README's repository.
    actionsClaims: { repository: "example-org/deploy", ref: "refs/heads/main", ref_type: "branch" },
  });
  // tauth trusts the harness (SSL_CERT_FILE) and takes it for github.com's issuer.
  const saved = { ssl: process.env.SSL_CERT_FILE, gh: process.env.TAUTH_GITHUB_ISSUER_URL };
  process.env.SSL_CERT_FILE = issuer.caFile;
  process.env.TAUTH_GITHUB_ISSUER_URL = issuer.issuer;
  try {
    auth = await startTauth();
  } finally {
    for (const [k, v] of [
      ["SSL_CERT_FILE", saved.ssl],
      ["TAUTH_GITHUB_ISSUER_URL", saved.gh],
    ] as const)
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
  }

  const binary = join(work, "tbot");
  copyFileSync(tbotBin, binary);
  chmodSync(binary, 0o755);
  b = await buildContainer({
    binary,
    rootfsDir: join(work, "rootfs"),
    out: join(work, "tbot-image.oci.tar"),
  });
  const layout = join(work, "layout");
  mkdirSync(layout);
  expect(run(["tar", "-xf", b.image.archive, "-C", layout]).code).toBe(0);
  bundle = join(work, "bundle");
  const u = run(["umoci", "unpack", "--image", `${layout}:${b.image.tag}`, bundle]);
  if (u.code !== 0) throw new Error(`umoci unpack: ${u.stderr}`);
  copyFileSync(join(bundle, "config.json"), join(bundle, "config.pristine.json"));
  // The image's CA bundle plus the harness's CA (it plays GitHub's public endpoint).
  const caBundle = join(work, "ca-certificates.crt");
  writeFileSync(
    caBundle,
    readFileSync(join(bundle, "rootfs/etc/ssl/certs/ca-certificates.crt"), "utf8") + issuer.ca.caPem,
  );

  mkdirSync(join(work, "bin"));
  writeFileSync(join(work, "docker-shim.ts"), dockerShim);
  writeFileSync(
    join(work, "bin/docker"),
    `#!/bin/sh\nexec "${process.execPath}" "${join(work, "docker-shim.ts")}" "$@"\n`,
  );
  chmodSync(join(work, "bin/docker"), 0o755);
  process.env.SHIM_BUNDLE = bundle;
  process.env.SHIM_CA_BUNDLE = caBundle;
  process.env.SHIM_RUNC_ROOT = join(work, "runc-state");

  script = stepScript(workflow, STEP)
    .replaceAll("auth.example.com:3025", auth.addr)
    .replaceAll("sha256:<pin>", auth.pin);
}, 240_000);

afterAll(async () => {
  await issuer?.stop();
});

/** The step as the runner runs it: its script file, bash -eo pipefail, the runner's environment. */
async function runStep(runnerTemp: string, actions: boolean): Promise<RunResult> {
  mkdirSync(runnerTemp, { recursive: true });
  const file = join(work, `step-${Date.now()}.sh`);
  writeFileSync(file, script);
  const env: Record<string, string> = {
    PATH: `${join(work, "bin")}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    HOME: work,
    RUNNER_TEMP: runnerTemp,
    GITHUB_ACTIONS: "true",
    SHIM_BUNDLE: bundle,
    SHIM_CA_BUNDLE: process.env.SHIM_CA_BUNDLE!,
    SHIM_RUNC_ROOT: process.env.SHIM_RUNC_ROOT!,
    ...(actions ? issuer.actionsEnv : {}),
  };
  // Not spawnSync: the issuer harness answers from this process's event loop.
  const p = Bun.spawn(["bash", "--noprofile", "--norc", "-eo", "pipefail", file], {
    env,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    timeout: 90_000,
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(p.stdout).text(),
    new Response(p.stderr).text(),
    p.exited,
  ]);
  return { code, stdout, stderr };
}

describe("README: GitHub Actions step with join_method: github", () => {
  test("the README's workflow asks for id-token: write and holds no secret", () => {
    expect(workflow).toContain("id-token: write");
    expect(workflow).not.toContain("secrets.");
    expect(script).toContain("-e ACTIONS_ID_TOKEN_REQUEST_URL -e ACTIONS_ID_TOKEN_REQUEST_TOKEN");
    expect(script).toContain("--join-method=github");
    expect(script).not.toContain("example.com"); // every endpoint was replaced
  });

  test("the README's bot and token YAML are accepted as written (tctl create, one file)", () => {
    expect(resources.split(/^---$/m)).toHaveLength(2);
    const f = join(work, "ci.yaml");
    writeFileSync(f, resources);
    const r = auth.tctl(["create", f]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('bot "ci" has been created');
    expect(r.stdout).toContain('token "ci-github" has been created');
  });

  test("the step runs through the image: identity written, its key and certificates verify; twice", async () => {
    for (const n of [1, 2]) {
      const temp = join(work, `runner-temp-${n}`);
      const r = await runStep(temp, true);
      expect(`${r.stdout}${r.stderr}`).not.toContain("ERROR");
      expect(r.code).toBe(0);
      const out = join(temp, "machine-id");
      for (const f of identityFiles) expect(statSync(join(out, f)).isFile()).toBe(true);

      // The TLS certificate: the bot's, signed by the cluster's user CA, for this key.
      const subject = run(["openssl", "x509", "-in", join(out, "tlscert"), "-noout", "-subject"]);
      expect(subject.stdout).toContain("CN = bot-ci");
      const userCa = join(work, "tls-user-ca.pem");
      writeFileSync(userCa, auth.tctl(["auth", "export", "--type=tls-user"]).stdout);
      const verify = run(["openssl", "verify", "-CAfile", userCa, join(out, "tlscert")]);
      expect(verify.stdout).toContain(": OK");
      const certKey = run(["openssl", "x509", "-in", join(out, "tlscert"), "-noout", "-pubkey"]).stdout;
      const ownKey = run(["openssl", "pkey", "-in", join(out, "key"), "-pubout"]).stdout;
      expect(certKey).toBe(ownKey);

      // The SSH certificate: for the same key, with the bot's principals.
      const sshCert = run(["ssh-keygen", "-L", "-f", join(out, "key-cert.pub")]);
      expect(sshCert.code).toBe(0);
      expect(sshCert.stdout).toContain("user certificate");
      const fp = (f: string) => run(["ssh-keygen", "-l", "-f", f]).stdout.split(" ")[1];
      expect(fp(join(out, "key-cert.pub"))).toBe(fp(join(out, "key.pub")));
    }
    // tbot asked the Actions runtime for a token meant for this cluster, with the bearer.
    expect(issuer.actionsRequests.filter((q) => q.status === 200)).toHaveLength(2);
    for (const q of issuer.actionsRequests) expect(q.audience).toBe(auth.clusterName);
    // Each run is a join of its own through the github method (no secret, token reused).
    const joins = auth.auditLog().filter((e) => e.event === "github.join");
    expect(joins).toHaveLength(2);
    expect(joins[0]).toMatchObject({ token: "ci-github", bot: "ci", rule_index: 0 });
  }, 180_000);

  test("without id-token: write (no ACTIONS_ID_TOKEN_REQUEST_*), the step fails with one ERROR line", async () => {
    const temp = join(work, "runner-temp-no-permission");
    const r = await runStep(temp, false);
    expect(r.code).not.toBe(0);
    const errors = `${r.stdout}${r.stderr}`.split("\n").filter((l) => l.includes("ERROR"));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain("ACTIONS_ID_TOKEN_REQUEST_URL");
    expect(existsSync(join(temp, "machine-id", "tlscert"))).toBe(false);
  }, 120_000);
});
