// A local STS for `iam` join tests: HTTPS on loopback (a test CA of its own, `caFile` for
// SSL_CERT_FILE), speaking STS's query protocol for GetCallerIdentity as the AWS SDKs send it
// (POST / with an x-www-form-urlencoded body `Action=GetCallerIdentity&Version=2011-06-15`;
// GET with the same query parameters works too). Every request's SigV4 signature is verified
// exactly (test/harness/sigv4-verifier.ts, itself checked against AWS's test suite) against a
// table of known credentials; the answer is STS's XML (or STS's JSON when the request asks
// for it with Accept: application/json), and failures are STS's ErrorResponse with its codes
// and statuses. Requests are recorded for assertions.
//
// AssumeRoleWithWebIdentity (unsigned, as STS takes it) is answered for the grants given in
// `webIdentity`: the right token for the right role gets that grant's temporary credentials
// (then known for GetCallerIdentity); anything else is InvalidIdentityToken or AccessDenied.

import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { decodePath, parseQuery, type SigV4Request } from "../../src/crypto/aws-sigv4.ts";
import { type VerifyResult, verifySigV4 } from "./sigv4-verifier.ts";
import { makeTestCa, type TestCa } from "./test-ca.ts";

export const STS_NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/";

export interface StsIdentity {
  /** "123456789012" */
  account: string;
  /** "arn:aws:iam::123456789012:user/alice" or "arn:aws:sts::123456789012:assumed-role/role/session" */
  arn: string;
  /** "AIDA…" for a user, "AROA…:session" for an assumed role */
  userId: string;
}

export interface StsCredential {
  accessKeyId: string;
  secretAccessKey: string;
  /** For temporary credentials: requests must carry it as X-Amz-Security-Token. */
  sessionToken?: string;
  identity: StsIdentity;
}

export interface StsRequestRecord {
  method: string;
  /** Path and query as received. */
  url: string;
  headers: [string, string][];
  body: string;
  /** The signature check's outcome. */
  verify: VerifyResult;
  /** Form/query parameters. */
  params: Record<string, string>;
  status: number;
  response: string;
}

/** An AssumeRoleWithWebIdentity the harness grants: this token, for this role → these credentials. */
export interface WebIdentityGrant {
  roleArn: string;
  token: string;
  credential: StsCredential & { sessionToken: string };
}

export interface StsOptions {
  credentials?: StsCredential[];
  webIdentity?: WebIdentityGrant[];
  /** The region the Credential scope must name; default us-east-1 (the global endpoint's). */
  region?: string;
  /** Header names (lower case) that must be signed besides host, e.g. the join challenge header. */
  requiredSignedHeaders?: string[];
  /** The harness's clock (for x-amz-date's 15-minute window); default the real one. */
  now?: () => Date;
}

export interface StsHarness {
  /** "https://127.0.0.1:<port>" */
  url: string;
  port: number;
  caFile: string;
  ca: TestCa;
  region: string;
  requests: StsRequestRecord[];
  credentials: Map<string, StsCredential>;
  addCredential(c: StsCredential): void;
  removeCredential(accessKeyId: string): void;
  /** Mutable: the signed headers required of the next requests. */
  requiredSignedHeaders: string[];
  now: () => Date;
  stop(): Promise<void>;
}

/** Escapes text content (the only places values go are element bodies). */
const xmlEscape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** STS's GetCallerIdentity answer, as STS formats it. */
export function getCallerIdentityXml(id: StsIdentity, requestId: string): string {
  return (
    `<GetCallerIdentityResponse xmlns="${STS_NAMESPACE}">\n` +
    "  <GetCallerIdentityResult>\n" +
    `    <Arn>${xmlEscape(id.arn)}</Arn>\n` +
    `    <UserId>${xmlEscape(id.userId)}</UserId>\n` +
    `    <Account>${xmlEscape(id.account)}</Account>\n` +
    "  </GetCallerIdentityResult>\n" +
    "  <ResponseMetadata>\n" +
    `    <RequestId>${requestId}</RequestId>\n` +
    "  </ResponseMetadata>\n" +
    "</GetCallerIdentityResponse>\n"
  );
}

/** STS's AssumeRoleWithWebIdentity answer (query protocol XML). */
export function assumeRoleWithWebIdentityXml(
  g: WebIdentityGrant,
  session: string,
  requestId: string,
): string {
  const c = g.credential;
  return (
    `<AssumeRoleWithWebIdentityResponse xmlns="${STS_NAMESPACE}">\n` +
    "  <AssumeRoleWithWebIdentityResult>\n" +
    "    <AssumedRoleUser>\n" +
    `      <Arn>${xmlEscape(c.identity.arn)}</Arn>\n` +
    `      <AssumedRoleId>${xmlEscape(c.identity.userId)}</AssumedRoleId>\n` +
    "    </AssumedRoleUser>\n" +
    "    <Credentials>\n" +
    `      <AccessKeyId>${xmlEscape(c.accessKeyId)}</AccessKeyId>\n` +
    `      <SecretAccessKey>${xmlEscape(c.secretAccessKey)}</SecretAccessKey>\n` +
    `      <SessionToken>${xmlEscape(c.sessionToken)}</SessionToken>\n` +
    `      <Expiration>${new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d{3}Z$/, "Z")}</Expiration>\n` +
    "    </Credentials>\n" +
    `    <SubjectFromWebIdentityToken>${xmlEscape(session)}</SubjectFromWebIdentityToken>\n` +
    "  </AssumeRoleWithWebIdentityResult>\n" +
    "  <ResponseMetadata>\n" +
    `    <RequestId>${requestId}</RequestId>\n` +
    "  </ResponseMetadata>\n" +
    "</AssumeRoleWithWebIdentityResponse>\n"
  );
}

/** STS's error document (Type is Sender for client errors). */
export function errorXml(code: string, message: string, requestId: string, type = "Sender"): string {
  return (
    `<ErrorResponse xmlns="${STS_NAMESPACE}">\n` +
    "  <Error>\n" +
    `    <Type>${type}</Type>\n` +
    `    <Code>${xmlEscape(code)}</Code>\n` +
    `    <Message>${xmlEscape(message)}</Message>\n` +
    "  </Error>\n" +
    `  <RequestId>${requestId}</RequestId>\n` +
    "</ErrorResponse>\n"
  );
}

export async function startSts(opts: StsOptions = {}): Promise<StsHarness> {
  const ca = makeTestCa("sts");
  const credentials = new Map((opts.credentials ?? []).map((c) => [c.accessKeyId, c]));
  const h: StsHarness = {
    url: "",
    port: 0,
    caFile: ca.caFile,
    ca,
    region: opts.region ?? "us-east-1",
    requests: [],
    credentials,
    addCredential: (c) => void credentials.set(c.accessKeyId, c),
    removeCredential: (ak) => void credentials.delete(ak),
    requiredSignedHeaders: opts.requiredSignedHeaders ?? [],
    now: opts.now ?? (() => new Date()),
    stop: async () => {},
  };

  const server: Server = createServer({ key: ca.keyPem, cert: ca.certPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (d: Buffer) => chunks.push(d));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const url = req.url ?? "/";
      const q = url.indexOf("?");
      const rawHeaders: [string, string][] = [];
      for (let i = 0; i + 1 < req.rawHeaders.length; i += 2)
        rawHeaders.push([req.rawHeaders[i]!, req.rawHeaders[i + 1]!]);
      const sreq: SigV4Request = {
        method: req.method ?? "GET",
        path: decodePath(q < 0 ? url : url.slice(0, q)),
        query: q < 0 ? [] : parseQuery(url.slice(q + 1)),
        headers: rawHeaders,
        body,
      };
      const verify = verifySigV4(sreq, {
        lookup: (ak) => credentials.get(ak),
        region: h.region,
        service: "sts",
        now: h.now(),
        requiredSignedHeaders: h.requiredSignedHeaders,
      });
      const params: Record<string, string> = {};
      for (const [k, v] of sreq.query ?? []) params[k] = v;
      const contentType = String(req.headers["content-type"] ?? "");
      if (sreq.method === "POST" && contentType.startsWith("application/x-www-form-urlencoded"))
        for (const [k, v] of new URLSearchParams(body)) params[k] = v;
      const json = String(req.headers.accept ?? "").includes("application/json");
      const requestId = randomUUID();

      let status: number;
      let response: string;
      const error = (st: number, code: string, message: string) => {
        status = st;
        response = json
          ? JSON.stringify({ Error: { Code: code, Message: message, Type: "Sender" }, RequestId: requestId })
          : errorXml(code, message, requestId);
      };
      const unsigned = !sreq.headers.some(([k]) => k.toLowerCase() === "authorization");
      if (params.Action === "AssumeRoleWithWebIdentity" && unsigned) {
        const grant = (opts.webIdentity ?? []).find((g) => g.token === params.WebIdentityToken);
        if (!grant)
          error(
            400,
            "InvalidIdentityToken",
            "Couldn't retrieve verification key from your identity provider",
          );
        else if (grant.roleArn !== params.RoleArn || !params.RoleSessionName)
          error(403, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity");
        else {
          h.addCredential(grant.credential);
          status = 200;
          response = assumeRoleWithWebIdentityXml(grant, params.RoleSessionName, requestId);
        }
      } else if (!verify.ok) error(verify.status, verify.code, verify.message);
      else if (params.Action !== "GetCallerIdentity")
        error(
          400,
          "InvalidAction",
          `Could not find operation ${params.Action ?? ""} for version ${params.Version ?? "NO_VERSION_SPECIFIED"}`,
        );
      else if (params.Version !== "2011-06-15")
        error(
          400,
          "InvalidAction",
          `Could not find operation GetCallerIdentity for version ${params.Version ?? "NO_VERSION_SPECIFIED"}`,
        );
      else {
        const id = credentials.get(verify.accessKeyId)!.identity;
        status = 200;
        response = json
          ? JSON.stringify({
              GetCallerIdentityResponse: {
                GetCallerIdentityResult: { Account: id.account, Arn: id.arn, UserId: id.userId },
                ResponseMetadata: { RequestId: requestId },
              },
            })
          : getCallerIdentityXml(id, requestId);
      }
      h.requests.push({
        method: sreq.method,
        url,
        headers: rawHeaders,
        body,
        verify,
        params,
        status: status!,
        response: response!,
      });
      res.writeHead(status!, {
        "content-type": json ? "application/json" : "text/xml",
        "x-amzn-requestid": requestId,
      });
      res.end(response!);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  h.port = (server.address() as AddressInfo).port;
  h.url = `https://127.0.0.1:${h.port}`;
  h.stop = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
    });
  return h;
}
