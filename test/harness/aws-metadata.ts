// The two credential endpoints of AWS's credential chain that run next to a workload, on one
// plain-HTTP loopback server (both are plain HTTP in AWS too):
//
// * EC2 instance metadata, IMDSv2: `PUT /latest/api/token` with
//   `X-aws-ec2-metadata-token-ttl-seconds: 1..21600` → a token; then, with
//   `X-aws-ec2-metadata-token: <token>`, `GET /latest/meta-data/iam/security-credentials/` → the
//   role name and `GET /latest/meta-data/iam/security-credentials/<role>` → the credentials JSON
//   (Code, LastUpdated, Type, AccessKeyId, SecretAccessKey, Token, Expiration). A GET without a
//   valid token is 401 unless IMDSv1 is allowed. Point a client at it with
//   AWS_EC2_METADATA_SERVICE_ENDPOINT=`imdsEndpoint`.
// * ECS container credentials: `GET <ecsPath>` with `Authorization: <token>` when one is set →
//   { AccessKeyId, SecretAccessKey, Token, Expiration, RoleArn }. A client gets it with
//   AWS_CONTAINER_CREDENTIALS_FULL_URI=`ecsUri` (and AWS_CONTAINER_AUTHORIZATION_TOKEN).

import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

export interface MetadataCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  /** Default: an hour from the request. */
  expiration?: Date;
}

export interface AwsMetadataOptions {
  /** The instance's role and its credentials (none: the instance has no profile, 404). */
  instanceRole?: { name: string; credentials: MetadataCredentials };
  /** Accept GETs without an IMDSv2 token (IMDSv1); default false (IMDSv2 required). */
  allowImdsV1?: boolean;
  ecs?: { path?: string; authorizationToken?: string; roleArn?: string; credentials: MetadataCredentials };
}

export interface MetadataRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  status: number;
}

export interface AwsMetadataHarness {
  /** "http://127.0.0.1:<port>" (AWS_EC2_METADATA_SERVICE_ENDPOINT). */
  imdsEndpoint: string;
  /** Full URI of the ECS credentials (AWS_CONTAINER_CREDENTIALS_FULL_URI). */
  ecsUri: string;
  port: number;
  requests: MetadataRequest[];
  /** Tokens handed out by PUT /latest/api/token. */
  tokens: Map<string, number>;
  options: AwsMetadataOptions;
  stop(): Promise<void>;
}

export async function startAwsMetadata(options: AwsMetadataOptions = {}): Promise<AwsMetadataHarness> {
  const tokens = new Map<string, number>(); // token → expiry (ms)
  const requests: MetadataRequest[] = [];
  const ecsPath = options.ecs?.path ?? "/v2/credentials/task-creds";

  const credentialsJson = (c: MetadataCredentials, extra: Record<string, string>) => ({
    ...extra,
    AccessKeyId: c.accessKeyId,
    SecretAccessKey: c.secretAccessKey,
    Token: c.sessionToken,
    Expiration: (c.expiration ?? new Date(Date.now() + 3_600_000)).toISOString().replace(/\.\d{3}Z$/, "Z"),
  });

  const handle = (req: IncomingMessage): [number, string, string] => {
    const url = req.url ?? "/";
    const text = "text/plain";
    if (url.startsWith("/latest/")) {
      if (url === "/latest/api/token") {
        if (req.method !== "PUT") return [405, text, ""];
        const ttl = Number(req.headers["x-aws-ec2-metadata-token-ttl-seconds"]);
        if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21600) return [400, text, ""];
        const token = randomBytes(32).toString("base64");
        tokens.set(token, Date.now() + ttl * 1000);
        return [200, text, token];
      }
      if (req.method !== "GET") return [405, text, ""];
      const token = req.headers["x-aws-ec2-metadata-token"];
      if (token !== undefined || !options.allowImdsV1) {
        const expiry = typeof token === "string" ? tokens.get(token) : undefined;
        if (expiry === undefined || expiry < Date.now()) return [401, text, ""];
      }
      const prefix = "/latest/meta-data/iam/security-credentials/";
      if (!url.startsWith(prefix)) return [404, text, ""];
      const role = options.instanceRole;
      if (!role) return [404, text, ""];
      const rest = url.slice(prefix.length);
      if (rest === "") return [200, text, role.name];
      if (rest !== role.name) return [404, text, ""];
      return [
        200,
        text,
        JSON.stringify(
          credentialsJson(role.credentials, {
            Code: "Success",
            LastUpdated: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
            Type: "AWS-HMAC",
          }),
        ),
      ];
    }
    if (options.ecs && url === ecsPath) {
      if (req.method !== "GET") return [405, text, ""];
      const want = options.ecs.authorizationToken;
      if (want !== undefined && req.headers.authorization !== want) return [401, text, ""];
      return [
        200,
        "application/json",
        JSON.stringify(
          credentialsJson(
            options.ecs.credentials,
            options.ecs.roleArn ? { RoleArn: options.ecs.roleArn } : ({} as Record<string, string>),
          ),
        ),
      ];
    }
    return [404, text, ""];
  };

  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const [status, type, body] = handle(req);
      requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, status });
      res.writeHead(status, { "content-type": type });
      res.end(body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    imdsEndpoint: `http://127.0.0.1:${port}`,
    ecsUri: `http://127.0.0.1:${port}${ecsPath}`,
    port,
    requests,
    tokens,
    options,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}
