// iam, the AWS credential chain: AWS's order (environment, shared credentials file, config
// file, web identity, container, instance metadata), the files' INI forms, and the container
// and IMDSv2 endpoints served by the metadata harness. Errors are one line naming what was
// tried, without secrets.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type ChainEnv, resolveAwsCredentials } from "../../../src/join/iam/credentials.ts";
import { parseIni } from "../../../src/join/iam/shared-files.ts";
import { type AwsMetadataHarness, startAwsMetadata } from "../../harness/aws-metadata.ts";
import { cleanupAfterFile, tempDir } from "../../harness/proc.ts";
import { type StsHarness, startSts } from "../../harness/sts.ts";

cleanupAfterFile();

let meta: AwsMetadataHarness;
let sts: StsHarness;
const WEB_ROLE = "arn:aws:iam::123456789012:role/irsa-role";
const web = {
  accessKeyId: "ASIAWEBIDENTITY",
  secretAccessKey: "web-secret+/=",
  sessionToken: "web-session",
  identity: {
    account: "123456789012",
    arn: "arn:aws:sts::123456789012:assumed-role/irsa-role/tbot-test",
    userId: "AROAWEB:tbot-test",
  },
};
let home: string;
const instance = {
  accessKeyId: "ASIAINSTANCE",
  secretAccessKey: "instance-secret",
  sessionToken: "instance-token",
};
const task = { accessKeyId: "ASIATASK", secretAccessKey: "task-secret", sessionToken: "task-token" };

beforeAll(async () => {
  meta = await startAwsMetadata({
    instanceRole: { name: "tbot-role", credentials: instance },
    ecs: { authorizationToken: "ecs-auth", credentials: task },
  });
  sts = await startSts({ webIdentity: [{ roleArn: WEB_ROLE, token: "eyJ.web.token", credential: web }] });
  home = tempDir("aws-home-");
  mkdirSync(join(home, ".aws"));
});
afterAll(async () => {
  await meta.stop();
  await sts.stop();
});

/** Nothing but what the test gives; IMDS off unless an endpoint is given. */
function chain(env: Record<string, string>): ChainEnv {
  return {
    env: { AWS_EC2_METADATA_DISABLED: "true", ...env },
    fetch: (url, init) => fetch(url, init),
    home,
    readFile: (p) => readFileSync(p, "utf8"),
  };
}

/** The chain, with fetch trusting the STS harness's CA (for web identity). */
function stsChain(env: Record<string, string>): ChainEnv {
  return {
    ...chain(env),
    fetch: (url, init) => fetch(url, { ...init, tls: { ca: sts.ca.caPem } } as RequestInit),
  };
}

const file = (name: string, text: string) => {
  const p = join(home, name);
  writeFileSync(p, text);
  return p;
};

describe("credential chain order", () => {
  test("environment first, with a session token", async () => {
    const r = await resolveAwsCredentials(
      chain({
        AWS_ACCESS_KEY_ID: "AKIAENV",
        AWS_SECRET_ACCESS_KEY: "env-secret",
        AWS_SESSION_TOKEN: "env-token",
        AWS_SHARED_CREDENTIALS_FILE: file(
          "creds-a",
          "[default]\naws_access_key_id = AKIAFILE\naws_secret_access_key = s\n",
        ),
        AWS_EC2_METADATA_DISABLED: "false",
        AWS_EC2_METADATA_SERVICE_ENDPOINT: meta.imdsEndpoint,
      }),
    );
    expect(r.credentials).toEqual({
      accessKeyId: "AKIAENV",
      secretAccessKey: "env-secret",
      sessionToken: "env-token",
    });
    expect(r.source).toContain("environment");
  });

  test("half the environment's keys is an error naming the missing one", async () => {
    await expect(resolveAwsCredentials(chain({ AWS_ACCESS_KEY_ID: "AKIAENV" }))).rejects.toThrow(
      "AWS_SECRET_ACCESS_KEY is not set",
    );
  });

  test("then the shared credentials file (profile AWS_PROFILE), before the config file", async () => {
    const creds = file(
      "creds-b",
      "# comment\n[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = d\n\n[ci]\naws_access_key_id=AKIACI\naws_secret_access_key=ci-secret ; inline\naws_session_token = ci-token\n",
    );
    const config = file(
      "config-b",
      "[profile ci]\naws_access_key_id = AKIACONFIG\naws_secret_access_key = c\n",
    );
    const r = await resolveAwsCredentials(
      chain({ AWS_SHARED_CREDENTIALS_FILE: creds, AWS_CONFIG_FILE: config, AWS_PROFILE: "ci" }),
    );
    expect(r.credentials).toEqual({
      accessKeyId: "AKIACI",
      secretAccessKey: "ci-secret",
      sessionToken: "ci-token",
    });
    const d = await resolveAwsCredentials(
      chain({ AWS_SHARED_CREDENTIALS_FILE: creds, AWS_CONFIG_FILE: config }),
    );
    expect(d.credentials.accessKeyId).toBe("AKIADEFAULT");
  });

  test("then the config file's [profile name] keys; ~/.aws is the default place", async () => {
    writeFileSync(
      join(home, ".aws", "config"),
      "[default]\nregion = eu-west-1\n[profile ops]\naws_access_key_id = AKIAOPS\naws_secret_access_key = ops\n",
    );
    const r = await resolveAwsCredentials(chain({ AWS_PROFILE: "ops" }));
    expect(r.credentials.accessKeyId).toBe("AKIAOPS");
    expect(r.source).toContain(join(home, ".aws", "config"));
  });

  test("a profile that is nowhere, or uses an unsupported source, is one clear error", async () => {
    await expect(resolveAwsCredentials(chain({ AWS_PROFILE: "ghost" }))).rejects.toThrow(
      'AWS_PROFILE names profile "ghost", which is in neither',
    );
    const config = file("config-sso", "[profile sso]\nsso_session = corp\n");
    await expect(
      resolveAwsCredentials(chain({ AWS_PROFILE: "sso", AWS_CONFIG_FILE: config })),
    ).rejects.toThrow('profile "sso" in');
  });

  test("then web identity: AssumeRoleWithWebIdentity (unsigned) at the STS endpoint, before container credentials", async () => {
    const tokenFile = file("web-token", "eyJ.web.token\n");
    const env = {
      AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
      AWS_ROLE_ARN: WEB_ROLE,
      AWS_ROLE_SESSION_NAME: "tbot-test",
      AWS_ENDPOINT_URL_STS: sts.url,
      AWS_CONTAINER_CREDENTIALS_FULL_URI: meta.ecsUri,
      AWS_CONTAINER_AUTHORIZATION_TOKEN: "ecs-auth",
    };
    const r = await resolveAwsCredentials(stsChain(env));
    expect(r.credentials).toEqual({
      accessKeyId: web.accessKeyId,
      secretAccessKey: web.secretAccessKey,
      sessionToken: web.sessionToken,
    });
    expect(r.source).toContain("web identity");
    const call = sts.requests.at(-1)!;
    expect(call.params).toMatchObject({
      Action: "AssumeRoleWithWebIdentity",
      RoleArn: WEB_ROLE,
      RoleSessionName: "tbot-test",
      WebIdentityToken: "eyJ.web.token",
    });
    expect(call.headers.some(([k]) => k.toLowerCase() === "authorization")).toBe(false);
    // A shared credentials file comes first.
    const creds = file("creds-web", "[default]\naws_access_key_id = AKIAFILE\naws_secret_access_key = s\n");
    const f = await resolveAwsCredentials(stsChain({ ...env, AWS_SHARED_CREDENTIALS_FILE: creds }));
    expect(f.credentials.accessKeyId).toBe("AKIAFILE");
  });

  test("web identity refused by STS, or without AWS_ROLE_ARN, is one clear error", async () => {
    const tokenFile = file("web-token-bad", "not-the-token\n");
    await expect(
      resolveAwsCredentials(
        stsChain({
          AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
          AWS_ROLE_ARN: WEB_ROLE,
          AWS_ENDPOINT_URL_STS: sts.url,
        }),
      ),
    ).rejects.toThrow(
      `web identity (AssumeRoleWithWebIdentity for ${WEB_ROLE} at 127.0.0.1:${sts.port}) refused: InvalidIdentityToken`,
    );
    await expect(resolveAwsCredentials(stsChain({ AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile }))).rejects.toThrow(
      "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not",
    );
  });

  test("then container credentials (full URI + authorization token, or its file) before instance metadata", async () => {
    const tokenFile = file("ecs-token", "ecs-auth\n");
    const r = await resolveAwsCredentials(
      chain({
        AWS_CONTAINER_CREDENTIALS_FULL_URI: meta.ecsUri,
        AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: tokenFile,
        AWS_EC2_METADATA_DISABLED: "false",
        AWS_EC2_METADATA_SERVICE_ENDPOINT: meta.imdsEndpoint,
      }),
    );
    expect(r.credentials).toEqual(task);
    expect(meta.requests.at(-1)!.headers.authorization).toBe("ecs-auth");
    const direct = await resolveAwsCredentials(
      chain({
        AWS_CONTAINER_CREDENTIALS_FULL_URI: meta.ecsUri,
        AWS_CONTAINER_AUTHORIZATION_TOKEN: "ecs-auth",
      }),
    );
    expect(direct.credentials).toEqual(task);
    await expect(
      resolveAwsCredentials(
        chain({
          AWS_CONTAINER_CREDENTIALS_FULL_URI: meta.ecsUri,
          AWS_CONTAINER_AUTHORIZATION_TOKEN: "wrong",
        }),
      ),
    ).rejects.toThrow("answered HTTP 401");
    await expect(
      resolveAwsCredentials(chain({ AWS_CONTAINER_CREDENTIALS_FULL_URI: "http://evil.example/creds" })),
    ).rejects.toThrow("is not a loopback or ECS/EKS address");
  });

  test("last, EC2 instance metadata with IMDSv2 (token first, then role, then credentials)", async () => {
    const before = meta.requests.length;
    const r = await resolveAwsCredentials(
      chain({ AWS_EC2_METADATA_DISABLED: "false", AWS_EC2_METADATA_SERVICE_ENDPOINT: meta.imdsEndpoint }),
    );
    expect(r.credentials).toEqual(instance);
    const seen = meta.requests.slice(before).map((q) => `${q.method} ${q.url} ${q.status}`);
    expect(seen).toEqual([
      "PUT /latest/api/token 200",
      "GET /latest/meta-data/iam/security-credentials/ 200",
      "GET /latest/meta-data/iam/security-credentials/tbot-role 200",
    ]);
    expect(meta.requests.at(-1)!.headers["x-aws-ec2-metadata-token"]).toBeDefined();
  });

  test("an instance without a role is said plainly", async () => {
    const bare = await startAwsMetadata({});
    await expect(
      resolveAwsCredentials(
        chain({ AWS_EC2_METADATA_DISABLED: "false", AWS_EC2_METADATA_SERVICE_ENDPOINT: bare.imdsEndpoint }),
      ),
    ).rejects.toThrow("the instance has no IAM role");
    await bare.stop();
  });

  test("nothing anywhere: one line naming each source tried, no secrets", async () => {
    const err = await resolveAwsCredentials(
      chain({ AWS_EC2_METADATA_DISABLED: "false", AWS_EC2_METADATA_SERVICE_ENDPOINT: "http://127.0.0.1:1" }),
    ).then(
      () => "resolved",
      (e: Error) => e.message,
    );
    expect(err.split("\n")).toHaveLength(1);
    for (const part of [
      "no AWS credentials found",
      "environment (AWS_ACCESS_KEY_ID not set)",
      "shared credentials file",
      "config file",
      "web identity",
      "container credentials",
      "EC2 instance metadata (http://127.0.0.1:1 unreachable)",
    ])
      expect(err).toContain(part);
    const disabled = await resolveAwsCredentials(chain({})).then(
      () => "resolved",
      (e: Error) => e.message,
    );
    expect(disabled).toContain("disabled by AWS_EC2_METADATA_DISABLED");
  });
});

describe("INI parsing", () => {
  test("sections, case-insensitive keys, comments, nested settings skipped", () => {
    const s = parseIni(
      "[default]\nAWS_Access_Key_ID = A\n; note\ns3 =\n  max_concurrent_requests = 2\naws_secret_access_key = B # c\n[ profile  x ]\nk=v\n",
    );
    expect(s.get("default")!.get("aws_access_key_id")).toBe("A");
    expect(s.get("default")!.get("aws_secret_access_key")).toBe("B");
    expect(s.get("default")!.has("max_concurrent_requests")).toBe(false);
    expect(s.get("profile x")!.get("k")).toBe("v");
  });
});
