// Credentials from the workload's surroundings, the last two links of AWS's chain:
// ECS/EKS container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI on 169.254.170.2, or
// AWS_CONTAINER_CREDENTIALS_FULL_URI with AWS_CONTAINER_AUTHORIZATION_TOKEN[_FILE]) and EC2
// instance metadata (IMDSv2: a session token first, then the role and its credentials; IMDSv1
// only when the token request is answered with an HTTP error, as the SDKs fall back).

import type { AwsCredentials } from "../../crypto/aws-sigv4.ts";

export type Fetcher = (url: string, init?: RequestInit) => Promise<Response>;

export interface MetadataEnv {
  env: Record<string, string | undefined>;
  fetch: Fetcher;
  readFile(path: string): string;
}

const ECS_HOST = "http://169.254.170.2";
const IMDS_DEFAULT = "http://169.254.169.254";
/** The SDKs wait about a second for metadata endpoints, which are local or absent. */
const TIMEOUT_MS = 1_000;

/** Hosts a full container-credentials URI may name over plain HTTP (the SDKs' rule). */
function fullUriAllowed(u: URL): boolean {
  if (u.protocol === "https:") return true;
  const h = u.hostname.replace(/^\[|\]$/g, "");
  return (
    u.protocol === "http:" &&
    (h === "localhost" ||
      h.startsWith("127.") ||
      h === "::1" ||
      h === "169.254.170.2" ||
      h === "169.254.170.23" ||
      h === "fd00:ec2::23")
  );
}

function fromJson(j: Record<string, unknown>, where: string): AwsCredentials {
  const ak = j.AccessKeyId;
  const sk = j.SecretAccessKey;
  if (typeof ak !== "string" || typeof sk !== "string" || !ak || !sk)
    throw new Error(`${where} answered without AccessKeyId and SecretAccessKey`);
  return {
    accessKeyId: ak,
    secretAccessKey: sk,
    ...(typeof j.Token === "string" && j.Token ? { sessionToken: j.Token } : {}),
  };
}

async function getJson(m: MetadataEnv, url: string, headers: Record<string, string>, where: string) {
  const res = await m.fetch(url, { headers, signal: AbortSignal.timeout(TIMEOUT_MS) });
  if (res.status !== 200) throw new Error(`${where} answered HTTP ${res.status}`);
  return (await res.json()) as Record<string, unknown>;
}

/** Container credentials, or undefined when neither variable is set. */
export async function containerCredentials(m: MetadataEnv): Promise<AwsCredentials | undefined> {
  const rel = m.env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI;
  const full = m.env.AWS_CONTAINER_CREDENTIALS_FULL_URI;
  if (!rel && !full) return undefined;
  const url = rel ? `${ECS_HOST}${rel.startsWith("/") ? "" : "/"}${rel}` : full!;
  const where = rel
    ? "container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI)"
    : "container credentials (AWS_CONTAINER_CREDENTIALS_FULL_URI)";
  if (!rel && !fullUriAllowed(new URL(url)))
    throw new Error(`${where}: ${new URL(url).host} is not a loopback or ECS/EKS address and not https`);
  const tokenFile = m.env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE;
  const token = tokenFile ? m.readFile(tokenFile).trim() : m.env.AWS_CONTAINER_AUTHORIZATION_TOKEN;
  return fromJson(await getJson(m, url, token ? { Authorization: token } : {}, where), where);
}

/** Instance-profile credentials from IMDS, or undefined when IMDS is disabled or unreachable. */
export async function instanceCredentials(m: MetadataEnv): Promise<AwsCredentials | undefined> {
  if ((m.env.AWS_EC2_METADATA_DISABLED ?? "").toLowerCase() === "true") return undefined;
  const base = (m.env.AWS_EC2_METADATA_SERVICE_ENDPOINT || IMDS_DEFAULT).replace(/\/+$/, "");
  const where = `EC2 instance metadata (${base})`;
  let session: Record<string, string> = {};
  try {
    const res = await m.fetch(`${base}/latest/api/token`, {
      method: "PUT",
      headers: { "X-aws-ec2-metadata-token-ttl-seconds": "21600" },
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    if (res.status === 200) session = { "X-aws-ec2-metadata-token": (await res.text()).trim() };
    else if ((m.env.AWS_EC2_METADATA_V1_DISABLED ?? "").toLowerCase() === "true")
      throw new Error(`${where} refused an IMDSv2 token (HTTP ${res.status}) and IMDSv1 is disabled`);
  } catch (e) {
    if ((e as Error).message.startsWith(where)) throw e;
    return undefined; // Not on EC2 (or IMDS blocked): the chain ends here.
  }
  const path = `${base}/latest/meta-data/iam/security-credentials/`;
  const list = await m.fetch(path, { headers: session, signal: AbortSignal.timeout(TIMEOUT_MS) });
  if (list.status === 404) throw new Error(`${where}: the instance has no IAM role (instance profile)`);
  if (list.status !== 200) throw new Error(`${where} answered HTTP ${list.status} for the role name`);
  const role = (await list.text()).split("\n")[0]!.trim();
  if (!role) throw new Error(`${where}: the instance has no IAM role (instance profile)`);
  return fromJson(await getJson(m, `${path}${encodeURIComponent(role)}`, session, where), where);
}
