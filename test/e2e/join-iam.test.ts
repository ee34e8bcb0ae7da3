// IAM (AWS) joining end to end on the compiled binary: a loopback STS (test/harness/sts.ts,
// verifying SigV4 exactly) allowed by TAUTH_STS_ENDPOINTS and trusted by tauth through
// SSL_CERT_FILE; tbot signs with credentials from the environment or from EC2 instance
// metadata (test/harness/aws-metadata.ts) and AWS_ENDPOINT_URL_STS. The reference's own token
// example joins; wrong account, wrong ARN, a host not allowed, a wrong secret and a replayed
// or foreign challenge are each one line with nothing written.

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freshKey } from "../../src/agent/identity/bot-identity.ts";
import { iamJoinClient } from "../../src/join/iam/client.ts";
import { ApiClient } from "../../src/protocol/client.ts";
import type { JoinResponse, PingResponse } from "../../src/protocol/messages.ts";
import { type AwsMetadataHarness, startAwsMetadata } from "../harness/aws-metadata.ts";
import { root, tauthBin, tbotBin } from "../harness/binary.ts";
import { expectOneErrorLine } from "../harness/extra.ts";
import { cleanupAfterFile, freePort, type RunResult, run, startProcess, tempDir } from "../harness/proc.ts";
import { type StsHarness, startSts } from "../harness/sts.ts";
import { startTauth, type TauthHandle } from "../harness/tauth.ts";

cleanupAfterFile();
setDefaultTimeout(60_000);

const ACCOUNT = "111111111111";
const ROLE_ARN = `arn:aws:sts::${ACCOUNT}:assumed-role/teleport-bot-role/i-0123456789abcdef0`;
const user = { accessKeyId: "AKIAIAMTESTUSER00001", secretAccessKey: "iam-test-secret" };
const instance = {
  accessKeyId: "ASIAIAMTESTINSTANCE1",
  secretAccessKey: "instance-secret",
  sessionToken: "instance-session-token",
};

const task = {
  accessKeyId: "ASIAIAMTESTECSTASK01",
  secretAccessKey: "task-secret",
  sessionToken: "task-session",
};
const WEB_ARN = `arn:aws:sts::${ACCOUNT}:assumed-role/teleport-bot-role/i-web`;
const web = {
  accessKeyId: "ASIAIAMTESTWEBIDENT1",
  secretAccessKey: "web-secret",
  sessionToken: "web-session",
};

let auth: TauthHandle;
let sts: StsHarness;
let meta: AwsMetadataHarness;
let work: string;

function create(name: string, text: string) {
  const p = join(work, name);
  writeFileSync(p, text);
  const r = auth.tctl(["create", "-f", p]);
  if (r.code !== 0) throw new Error(`tctl create ${name}: ${r.stderr}`);
}

function iamToken(name: string, rules: string[]): string {
  return `kind: token
version: v2
metadata:
  name: ${name}
spec:
  roles: [Bot]
  bot_name: example
  join_method: iam
  allow:
${rules.map((r) => `    - ${r}`).join("\n")}
`;
}

function tbotYaml(token: string, dir: string): string {
  const p = join(dir, "tbot.yaml");
  writeFileSync(
    p,
    `version: v2
auth_server: ${auth.addr}
onboarding:
  join_method: iam
  token: ${token}
  ca_pins: [${auth.pin}]
storage:
  type: directory
  path: ${join(dir, "data")}
services:
  - type: identity
    destination:
      type: directory
      path: ${join(dir, "out")}
`,
  );
  return p;
}

/** A clean AWS environment: nothing from the machine running the tests. */
function awsEnv(dir: string, extra: Record<string, string>): Record<string, string> {
  return {
    HOME: dir,
    AWS_ACCESS_KEY_ID: "",
    AWS_SECRET_ACCESS_KEY: "",
    AWS_SESSION_TOKEN: "",
    AWS_PROFILE: "",
    AWS_REGION: "",
    AWS_DEFAULT_REGION: "",
    AWS_CONFIG_FILE: "",
    AWS_SHARED_CREDENTIALS_FILE: "",
    AWS_CONTAINER_CREDENTIALS_FULL_URI: "",
    AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: "",
    AWS_WEB_IDENTITY_TOKEN_FILE: "",
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_ENDPOINT_URL_STS: sts.url,
    ...extra,
  };
}

const envKeys = (secret = user.secretAccessKey) => ({
  AWS_ACCESS_KEY_ID: user.accessKeyId,
  AWS_SECRET_ACCESS_KEY: secret,
});

/**
 * Runs a command without blocking this process: the STS and metadata harnesses live here and
 * must answer while tbot (and tauth on its behalf) call them.
 */
async function runAsync(cmd: string[], env: Record<string, string>): Promise<RunResult> {
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

async function oneshot(token: string, env: Record<string, string>) {
  const dir = tempDir("iam-bot-");
  const r = await runAsync([tbotBin, "start", "-c", tbotYaml(token, dir), "--oneshot"], awsEnv(dir, env));
  return { r, dir };
}

function expectIdentityWritten(dir: string) {
  const verify = run([
    "openssl",
    "verify",
    "-CAfile",
    join(dir, "out", "teleport-user-ca.crt"),
    join(dir, "out", "tlscert"),
  ]);
  expect(verify.stdout).toContain("OK");
}

function expectNothingWritten(dir: string) {
  const out = join(dir, "out");
  expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
}

beforeAll(async () => {
  work = tempDir("iam-join-");
  sts = await startSts({
    credentials: [
      { ...user, identity: { account: ACCOUNT, arn: ROLE_ARN, userId: "AROAIAMTEST:i-0123456789abcdef0" } },
      {
        ...instance,
        identity: { account: ACCOUNT, arn: ROLE_ARN, userId: "AROAIAMTEST:i-0123456789abcdef0" },
      },
      { ...task, identity: { account: ACCOUNT, arn: ROLE_ARN, userId: "AROAIAMTEST:ecs-task" } },
    ],
    requiredSignedHeaders: ["x-teleport-challenge"],
    webIdentity: [
      {
        roleArn: "arn:aws:iam::111111111111:role/teleport-bot-role",
        token: "irsa-projected-token",
        credential: {
          ...web,
          identity: { account: ACCOUNT, arn: WEB_ARN, userId: "AROAIAMTEST:i-web" },
        },
      },
    ],
  });
  meta = await startAwsMetadata({
    instanceRole: { name: "teleport-bot-role", credentials: instance },
    ecs: { authorizationToken: "ecs-auth-token", credentials: task },
  });
  // tauth inherits these: it trusts the loopback STS's CA and allows its host.
  process.env.SSL_CERT_FILE = sts.caFile;
  process.env.TAUTH_STS_ENDPOINTS = `127.0.0.1:${sts.port}`;
  try {
    auth = await startTauth();
  } finally {
    delete process.env.SSL_CERT_FILE;
    delete process.env.TAUTH_STS_ENDPOINTS;
  }
  create("bot.yaml", "kind: bot\nversion: v1\nmetadata:\n  name: example\nspec:\n  roles: [access]\n");
});

afterAll(async () => {
  await meta?.stop();
  await sts?.stop();
});

describe("iam joining", () => {
  test("tauth logs the extra STS endpoint at start", () => {
    expect(auth.proc.output()).toContain("TAUTH_STS_ENDPOINTS is set");
    expect(auth.proc.output()).toContain(`127.0.0.1:${sts.port}`);
  });

  test("a malformed TAUTH_STS_ENDPOINTS stops tauth before anything is written", async () => {
    const data = join(tempDir("iam-bad-env-"), "data");
    const r = run([tauthBin, "start", "--data-dir", data, "--listen", `127.0.0.1:${await freePort()}`], {
      env: { TAUTH_STS_ENDPOINTS: "http://127.0.0.1:1" },
    });
    expect(expectOneErrorLine(r)).toContain("TAUTH_STS_ENDPOINTS");
    expect(existsSync(data)).toBe(false);
  });

  test("the reference's token example: tctl create accepts it, and a bot with a matching role joins (env credentials)", async () => {
    const r = auth.tctl(["create", "-f", join(root, "test/vectors/join-tokens/iam-machine-id-aws.yaml")]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const before = sts.requests.length;
    const { r: one, dir } = await oneshot("example-bot", envKeys());
    expect(one.stderr).not.toContain("ERROR");
    expect(one.code).toBe(0);
    expectIdentityWritten(dir);
    // The server sent exactly the client's signed request to STS, which verified it.
    const seen = sts.requests.slice(before);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.verify.ok).toBe(true);
    expect(seen[0]!.verify.ok && seen[0]!.verify.signedHeaders).toContain("x-teleport-challenge");
    const joins = auth.auditLog().filter((e) => e.event === "iam.join");
    expect(joins.at(-1)?.aws_arn).toBe(ROLE_ARN);
    expect(joins.at(-1)?.aws_account).toBe(ACCOUNT);
    // No secret in tbot's output.
    expect(one.stderr + one.stdout).not.toContain(user.secretAccessKey);
  });

  test("credentials from EC2 instance metadata (IMDSv2, session token); renewal is a re-join keeping the instance", async () => {
    const dir = tempDir("iam-imds-");
    const env = awsEnv(dir, {
      AWS_EC2_METADATA_DISABLED: "",
      AWS_EC2_METADATA_SERVICE_ENDPOINT: meta.imdsEndpoint,
    });
    const cfg = tbotYaml("example-bot", dir);
    const one = await runAsync([tbotBin, "start", "-c", cfg, "--oneshot"], env);
    expect(one.stderr).not.toContain("ERROR");
    expect(one.code).toBe(0);
    expectIdentityWritten(dir);
    expect(meta.requests.some((q) => q.method === "PUT" && q.url === "/latest/api/token")).toBe(true);
    const last = sts.requests.at(-1)!;
    expect(last.verify.ok && last.verify.accessKeyId).toBe(instance.accessKeyId);

    const daemon = startProcess(
      [tbotBin, "start", "-c", cfg, "--certificate-ttl", "1m", "--renewal-interval", "1s"],
      { env },
    );
    await daemon.waitFor(/Renewed bot identity[\s\S]*Renewed bot identity/, 30_000);
    const instances = [...daemon.output().matchAll(/Renewed bot identity .*instance:(\S+)/g)].map(
      (m) => m[1],
    );
    expect(new Set(instances).size).toBe(1);
    expect(await daemon.stop()).toBe(0);
  });

  test("credentials from ECS container credentials (full URI + authorization token file)", async () => {
    const dir = tempDir("iam-ecs-");
    const tokenFile = join(dir, "ecs-token");
    writeFileSync(tokenFile, "ecs-auth-token\n");
    const r = await runAsync(
      [tbotBin, "start", "-c", tbotYaml("example-bot", dir), "--oneshot"],
      awsEnv(dir, {
        AWS_CONTAINER_CREDENTIALS_FULL_URI: meta.ecsUri,
        AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: tokenFile,
      }),
    );
    expect(r.stderr).not.toContain("ERROR");
    expect(r.code).toBe(0);
    expectIdentityWritten(dir);
    const last = sts.requests.at(-1)!;
    expect(last.verify.ok && last.verify.accessKeyId).toBe(task.accessKeyId);
  });

  test("credentials from web identity (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN, e.g. EKS IRSA)", async () => {
    const dir = tempDir("iam-web-");
    const tokenFile = join(dir, "token");
    writeFileSync(tokenFile, "irsa-projected-token\n");
    const r = await runAsync(
      [tbotBin, "start", "-c", tbotYaml("example-bot", dir), "--oneshot"],
      awsEnv(dir, {
        AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
        AWS_ROLE_ARN: "arn:aws:iam::111111111111:role/teleport-bot-role",
        // tbot trusts the loopback STS for the AssumeRoleWithWebIdentity call.
        SSL_CERT_FILE: sts.caFile,
      }),
    );
    expect(r.stderr).not.toContain("ERROR");
    expect(r.code).toBe(0);
    expectIdentityWritten(dir);
    expect(
      auth
        .auditLog()
        .filter((e) => e.event === "iam.join")
        .at(-1)?.aws_arn,
    ).toBe(WEB_ARN);
  });

  test("denied: wrong account", async () => {
    create("wrong-account.yaml", iamToken("iam-wrong-account", ['aws_account: "222222222222"']));
    const { r, dir } = await oneshot("iam-wrong-account", envKeys());
    const line = expectOneErrorLine(r);
    expect(line).toContain(`AWS identity ${ROLE_ARN} (account ${ACCOUNT}) did not match any allow rule`);
    expectNothingWritten(dir);
  });

  test("denied: wrong ARN (right account)", async () => {
    create(
      "wrong-arn.yaml",
      iamToken("iam-wrong-arn", [
        `aws_account: "${ACCOUNT}"\n      aws_arn: "arn:aws:sts::${ACCOUNT}:assumed-role/other-role/*"`,
      ]),
    );
    const { r, dir } = await oneshot("iam-wrong-arn", envKeys());
    expect(expectOneErrorLine(r)).toContain("did not match any allow rule");
    expectNothingWritten(dir);
  });

  test("denied: an STS host not allowed, refused before any call to it", async () => {
    const other = await startSts({
      credentials: [{ ...user, identity: { account: ACCOUNT, arn: ROLE_ARN, userId: "x" } }],
    });
    try {
      const { r, dir } = await oneshot("example-bot", { ...envKeys(), AWS_ENDPOINT_URL_STS: other.url });
      expect(expectOneErrorLine(r)).toContain(
        `IAM join request names STS host "127.0.0.1:${other.port}", which is not an AWS STS endpoint allowed`,
      );
      expect(other.requests).toHaveLength(0);
      expectNothingWritten(dir);
    } finally {
      await other.stop();
    }
  });

  test("denied: invalid signature (wrong secret) — STS says SignatureDoesNotMatch", async () => {
    const { r, dir } = await oneshot("example-bot", envKeys("not-the-secret"));
    expect(expectOneErrorLine(r)).toContain(
      "refused the signed GetCallerIdentity request: SignatureDoesNotMatch",
    );
    expect(sts.requests.at(-1)!.status).toBe(403);
    expect(r.stderr).not.toContain("not-the-secret");
    expectNothingWritten(dir);
  });

  test("denied: no credentials anywhere — one line naming what was tried", async () => {
    const { r, dir } = await oneshot("example-bot", {});
    const line = expectOneErrorLine(r);
    expect(line).toContain("no AWS credentials found");
    expect(line).toContain("environment (AWS_ACCESS_KEY_ID not set)");
    expect(line).toContain("EC2 instance metadata (disabled by AWS_EC2_METADATA_DISABLED)");
    expectNothingWritten(dir);
  });

  test("denied: challenge replayed, foreign or missing (the protocol client against tauth's join API)", async () => {
    const ping = await new ApiClient(auth.addr, { insecure: true }).get<PingResponse>("/v1/ping");
    const api = new ApiClient(auth.addr, { ca: ping.host_ca_certs });
    const key = await freshKey();
    const base = {
      client_init: { join_method: "iam", token_name: "example-bot", system_role: "Bot" as const },
      bot_params: { public_keys: key.publicKeys, expires: new Date(Date.now() + 3600_000).toISOString() },
    };
    const client = iamJoinClient({
      chain: {
        env: { ...envKeys(), AWS_ENDPOINT_URL_STS: sts.url },
        fetch: () => Promise.reject(new Error("no metadata here")),
        home: work,
        readFile: () => {
          throw Object.assign(new Error("absent"), { code: "ENOENT" });
        },
      },
    });
    const post = (body: unknown) =>
      api.post<JoinResponse>("/v1/join", body).then(
        (r) => r.type,
        (e: Error) => e.message,
      );
    const first = await api.post<JoinResponse>("/v1/join", base);
    if (first.type !== "challenge") throw new Error("expected a challenge");
    const captured = await client.solve!(first.challenge);
    expect(await post({ ...base, continuation: first.continuation, solution: captured })).toBe("result");
    // The same answer again.
    expect(await post({ ...base, continuation: first.continuation, solution: captured })).toContain(
      "already answered",
    );
    // The captured signed request as the answer to a new challenge.
    const second = await api.post<JoinResponse>("/v1/join", base);
    if (second.type !== "challenge") throw new Error("expected a challenge");
    const stsBefore = sts.requests.length;
    const replay = await post({ ...base, continuation: second.continuation, solution: captured });
    expect(replay).toContain("is not the challenge issued for this join");
    // Without the challenge header.
    const third = await api.post<JoinResponse>("/v1/join", base);
    if (third.type !== "challenge") throw new Error("expected a challenge");
    const signed = (await client.solve!(third.challenge)) as {
      sts_identity_request: { headers: [string, string][] };
    };
    signed.sts_identity_request.headers = signed.sts_identity_request.headers.filter(
      ([k]) => k !== "X-Teleport-Challenge",
    );
    expect(await post({ ...base, continuation: third.continuation, solution: signed })).toContain(
      "the challenge is missing",
    );
    // None of the refused ones reached STS.
    expect(sts.requests.length).toBe(stsBefore);
    const failed = auth.auditLog().filter((e) => e.event === "bot.join.failed" && e.join_method === "iam");
    expect(failed.some((e) => String(e.reason).includes("is not the challenge issued"))).toBe(true);
  });
});
