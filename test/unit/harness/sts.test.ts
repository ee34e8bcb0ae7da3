// The STS harness (test/harness/sts.ts) and the AWS metadata responder
// (test/harness/aws-metadata.ts): requests signed by src/crypto/aws-sigv4.ts are accepted, and
// so are curl's own SigV4 requests (--aws-sigv4, an independent signer); tampered, stale,
// unknown-key and incompletely signed ones get STS's errors.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { type AwsCredentials, requestFromUrl, signRequest } from "../../../src/crypto/aws-sigv4.ts";
import { type AwsMetadataHarness, startAwsMetadata } from "../../harness/aws-metadata.ts";
import { cleanupAfterFile } from "../../harness/proc.ts";
import { type StsHarness, startSts } from "../../harness/sts.ts";

cleanupAfterFile();

const USER = {
  accessKeyId: "AKIAIOSFODNN7EXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  identity: {
    account: "123456789012",
    arn: "arn:aws:iam::123456789012:user/alice",
    userId: "AIDAJQABLZS4A3QDU576Q",
  },
};
const ROLE = {
  accessKeyId: "ASIAIOSFODNN7EXAMPLE",
  secretAccessKey: "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
  sessionToken: "FwoGZXIvYXdzEXAMPLESESSIONTOKEN//////////wEaDM+TEST=",
  identity: {
    account: "210987654321",
    arn: "arn:aws:sts::210987654321:assumed-role/ci-runner/i-0abc",
    userId: "AROA3XFRBF535PLBIFPI4:i-0abc",
  },
};
const BODY = "Action=GetCallerIdentity&Version=2011-06-15";
const CHALLENGE = "x-teleport-challenge";

let sts: StsHarness;
let ca: string;

beforeAll(async () => {
  sts = await startSts({ credentials: [USER, ROLE] });
  ca = readFileSync(sts.caFile, "utf8");
});
afterAll(async () => {
  await sts.stop();
});

/** POSTs GetCallerIdentity signed with `creds`; `tamper` may change the request after signing. */
async function call(
  creds: AwsCredentials,
  opts: {
    extraHeaders?: [string, string][];
    now?: Date;
    region?: string;
    tamper?: (h: [string, string][]) => { headers: [string, string][]; body: string };
  } = {},
) {
  const req = requestFromUrl(
    "POST",
    `${sts.url}/`,
    [["Content-Type", "application/x-www-form-urlencoded; charset=utf-8"], ...(opts.extraHeaders ?? [])],
    BODY,
  );
  const s = signRequest(req, {
    credentials: creds,
    region: opts.region ?? "us-east-1",
    service: "sts",
    now: opts.now,
  });
  const { headers, body } = opts.tamper ? opts.tamper(s.headers) : { headers: s.headers, body: BODY };
  const res = await fetch(`${sts.url}/`, { method: "POST", headers, body, tls: { ca } } as RequestInit);
  return { status: res.status, text: await res.text(), type: res.headers.get("content-type") };
}

const codeOf = (xml: string) => /<Code>([^<]*)<\/Code>/.exec(xml)?.[1];

describe("STS harness", () => {
  test("answers GetCallerIdentity in STS's XML for a long-term key", async () => {
    const r = await call(USER);
    expect(r.status).toBe(200);
    expect(r.type).toBe("text/xml");
    expect(r.text).toMatch(
      /^<GetCallerIdentityResponse xmlns="https:\/\/sts\.amazonaws\.com\/doc\/2011-06-15\/">\n {2}<GetCallerIdentityResult>\n {4}<Arn>arn:aws:iam::123456789012:user\/alice<\/Arn>\n {4}<UserId>AIDAJQABLZS4A3QDU576Q<\/UserId>\n {4}<Account>123456789012<\/Account>\n {2}<\/GetCallerIdentityResult>\n {2}<ResponseMetadata>\n {4}<RequestId>[0-9a-f-]{36}<\/RequestId>\n {2}<\/ResponseMetadata>\n<\/GetCallerIdentityResponse>\n$/,
    );
    const rec = sts.requests.at(-1)!;
    expect(rec.params).toEqual({ Action: "GetCallerIdentity", Version: "2011-06-15" });
    expect(rec.verify.ok).toBe(true);
  });

  test("session credentials: the token is required and must match", async () => {
    const ok = await call(ROLE);
    expect(ok.status).toBe(200);
    expect(ok.text).toContain("<Arn>arn:aws:sts::210987654321:assumed-role/ci-runner/i-0abc</Arn>");
    const { sessionToken: _, ...noToken } = ROLE;
    const r = await call(noToken);
    expect([r.status, codeOf(r.text)]).toEqual([403, "InvalidClientTokenId"]);
    const wrong = await call({ ...ROLE, sessionToken: "other" });
    expect([wrong.status, codeOf(wrong.text)]).toEqual([403, "InvalidClientTokenId"]);
  });

  test("JSON when asked with Accept: application/json (signed)", async () => {
    const r = await call(USER, { extraHeaders: [["Accept", "application/json"]] });
    expect(r.status).toBe(200);
    const j = JSON.parse(r.text);
    expect(j.GetCallerIdentityResponse.GetCallerIdentityResult).toEqual({
      Account: "123456789012",
      Arn: "arn:aws:iam::123456789012:user/alice",
      UserId: "AIDAJQABLZS4A3QDU576Q",
    });
  });

  test("a tampered body or header is SignatureDoesNotMatch (403, ErrorResponse XML)", async () => {
    const body = await call(USER, {
      tamper: (h) => ({ headers: h, body: "Action=GetCallerIdentity&Version=2011-06-15&X=1" }),
    });
    expect(body.status).toBe(403);
    expect(body.text).toMatch(
      /^<ErrorResponse xmlns="https:\/\/sts\.amazonaws\.com\/doc\/2011-06-15\/">\n {2}<Error>\n {4}<Type>Sender<\/Type>\n {4}<Code>SignatureDoesNotMatch<\/Code>\n {4}<Message>The request signature we calculated does not match the signature you provided\./,
    );
    const header = await call(USER, {
      extraHeaders: [[CHALLENGE, "abc"]],
      tamper: (h) => ({ headers: h.map(([k, v]) => [k, k === CHALLENGE ? "abd" : v]), body: BODY }),
    });
    expect([header.status, codeOf(header.text)]).toEqual([403, "SignatureDoesNotMatch"]);
    const wrongSecret = await call({ ...USER, secretAccessKey: "x" });
    expect([wrongSecret.status, codeOf(wrongSecret.text)]).toEqual([403, "SignatureDoesNotMatch"]);
  });

  test("unknown access key is InvalidClientTokenId", async () => {
    const r = await call({ accessKeyId: "AKIANOTKNOWN0000000", secretAccessKey: "s" });
    expect([r.status, codeOf(r.text)]).toEqual([403, "InvalidClientTokenId"]);
    expect(r.text).toContain("<Message>The security token included in the request is invalid.</Message>");
  });

  test("x-amz-date outside 15 minutes is refused as expired / not yet current", async () => {
    const old = await call(USER, { now: new Date(Date.now() - 16 * 60_000) });
    expect([old.status, codeOf(old.text)]).toEqual([403, "SignatureDoesNotMatch"]);
    expect(old.text).toContain("Signature expired: ");
    const fresh = await call(USER, { now: new Date(Date.now() - 14 * 60_000) });
    expect(fresh.status).toBe(200);
    const future = await call(USER, { now: new Date(Date.now() + 16 * 60_000) });
    expect(future.text).toContain("Signature not yet current: ");
  });

  test("wrong region in the scope, missing Authorization parts: STS's codes", async () => {
    const region = await call(USER, { region: "eu-west-1" });
    expect([region.status, codeOf(region.text)]).toEqual([403, "SignatureDoesNotMatch"]);
    expect(region.text).toContain("Credential should be scoped to a valid region, not 'eu-west-1'.");
    const cut = await call(USER, {
      tamper: (h) => ({
        headers: h.map(([k, v]) => [k, k === "Authorization" ? v.replace(/, Signature=.*/, "") : v]),
        body: BODY,
      }),
    });
    expect([cut.status, codeOf(cut.text)]).toEqual([400, "IncompleteSignature"]);
    const none = await fetch(`${sts.url}/`, { method: "POST", body: BODY, tls: { ca } } as RequestInit);
    expect(none.status).toBe(403);
    expect(codeOf(await none.text())).toBe("MissingAuthenticationToken");
  });

  test("a required signed header (the join challenge) must be signed", async () => {
    sts.requiredSignedHeaders = [CHALLENGE];
    try {
      const missing = await call(USER);
      expect([missing.status, codeOf(missing.text)]).toEqual([400, "IncompleteSignature"]);
      const signed = await call(USER, { extraHeaders: [["X-Teleport-Challenge", "c2lnbmVk"]] });
      expect(signed.status).toBe(200);
      const rec = sts.requests.at(-1)!;
      expect(rec.verify.ok && rec.verify.signedHeaders).toContain(CHALLENGE);
      expect(rec.headers).toContainEqual(["X-Teleport-Challenge", "c2lnbmVk"]);
    } finally {
      sts.requiredSignedHeaders = [];
    }
  });

  test("an unknown action is InvalidAction (400)", async () => {
    const req = requestFromUrl(
      "POST",
      `${sts.url}/`,
      [["Content-Type", "application/x-www-form-urlencoded"]],
      "Action=AssumeRole&Version=2011-06-15",
    );
    const s = signRequest(req, { credentials: USER, region: "us-east-1", service: "sts" });
    const r = await fetch(`${sts.url}/`, {
      method: "POST",
      headers: s.headers,
      body: "Action=AssumeRole&Version=2011-06-15",
      tls: { ca },
    } as RequestInit);
    expect(r.status).toBe(400);
    expect(codeOf(await r.text())).toBe("InvalidAction");
  });

  test("curl --aws-sigv4 (an independent signer) is accepted, and refused with a wrong secret", async () => {
    const curl = async (secret: string) => {
      const p = Bun.spawn(
        [
          "curl",
          "-sS",
          "--cacert",
          sts.caFile,
          "--aws-sigv4",
          "aws:amz:us-east-1:sts",
          "--user",
          `${USER.accessKeyId}:${secret}`,
          "-H",
          "Content-Type: application/x-www-form-urlencoded",
          "--data",
          BODY,
          "-w",
          "\n%{http_code}",
          `${sts.url}/`,
        ],
        { stdout: "pipe", stderr: "pipe" },
      );
      const out = await new Response(p.stdout).text();
      await p.exited;
      return out;
    };
    const ok = await curl(USER.secretAccessKey);
    expect(ok).toContain("<Account>123456789012</Account>");
    expect(ok.endsWith("\n200")).toBe(true);
    expect(sts.requests.at(-1)!.headers.some(([k]) => k.toLowerCase() === "user-agent")).toBe(true);
    const bad = await curl("wrong");
    expect(bad).toContain("<Code>SignatureDoesNotMatch</Code>");
    expect(bad.endsWith("\n403")).toBe(true);
  });
});

describe("AWS metadata responder", () => {
  let md: AwsMetadataHarness;
  const creds = { accessKeyId: "ASIAMETADATA", secretAccessKey: "md-secret", sessionToken: "md-token" };
  beforeAll(async () => {
    md = await startAwsMetadata({
      instanceRole: { name: "bot-role", credentials: creds },
      ecs: {
        authorizationToken: "ecs-auth",
        roleArn: "arn:aws:iam::123456789012:role/task",
        credentials: creds,
      },
    });
  });
  afterAll(async () => {
    await md.stop();
  });

  test("IMDSv2: token, role name, credentials; no token is 401", async () => {
    const t = await fetch(`${md.imdsEndpoint}/latest/api/token`, {
      method: "PUT",
      headers: { "X-aws-ec2-metadata-token-ttl-seconds": "21600" },
    });
    expect(t.status).toBe(200);
    const token = await t.text();
    const h = { "X-aws-ec2-metadata-token": token };
    const role = await fetch(`${md.imdsEndpoint}/latest/meta-data/iam/security-credentials/`, { headers: h });
    expect(await role.text()).toBe("bot-role");
    const c: any = await (
      await fetch(`${md.imdsEndpoint}/latest/meta-data/iam/security-credentials/bot-role`, { headers: h })
    ).json();
    expect(c).toMatchObject({
      Code: "Success",
      Type: "AWS-HMAC",
      AccessKeyId: "ASIAMETADATA",
      SecretAccessKey: "md-secret",
      Token: "md-token",
    });
    expect(c.Expiration).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const v1 = await fetch(`${md.imdsEndpoint}/latest/meta-data/iam/security-credentials/`);
    expect(v1.status).toBe(401);
    const badTtl = await fetch(`${md.imdsEndpoint}/latest/api/token`, { method: "PUT" });
    expect(badTtl.status).toBe(400);
  });

  test("ECS container credentials need the authorization token", async () => {
    const ok = await fetch(md.ecsUri, { headers: { Authorization: "ecs-auth" } });
    expect(await ok.json()).toMatchObject({
      AccessKeyId: "ASIAMETADATA",
      Token: "md-token",
      RoleArn: "arn:aws:iam::123456789012:role/task",
    });
    expect((await fetch(md.ecsUri)).status).toBe(401);
  });
});
