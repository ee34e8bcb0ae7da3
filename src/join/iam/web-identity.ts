// Web identity credentials (EKS IRSA and the like): AWS_WEB_IDENTITY_TOKEN_FILE holds a token
// that STS's AssumeRoleWithWebIdentity exchanges for AWS_ROLE_ARN's temporary credentials.
// The call is unsigned (the token is the proof) and goes to the same STS endpoint the join
// request is signed for (sts-hosts.ts's stsEndpoint). The answer is the query protocol's XML.

import type { AwsCredentials } from "../../crypto/aws-sigv4.ts";
import type { Fetcher } from "./metadata-credentials.ts";
import { stsEndpoint } from "./sts-hosts.ts";
import { element, parseError } from "./sts-response.ts";

const TIMEOUT_MS = 10_000;

export async function webIdentityCredentials(m: {
  env: Record<string, string | undefined>;
  fetch: Fetcher;
  readFile(path: string): string;
}): Promise<AwsCredentials | undefined> {
  const tokenFile = m.env.AWS_WEB_IDENTITY_TOKEN_FILE;
  if (!tokenFile) return undefined;
  const roleArn = m.env.AWS_ROLE_ARN;
  if (!roleArn) throw new Error("AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not");
  let token: string;
  try {
    token = m.readFile(tokenFile).trim();
  } catch (e) {
    throw new Error(
      `web identity token file ${tokenFile} cannot be read: ${(e as NodeJS.ErrnoException).code ?? e}`,
    );
  }
  const { url } = stsEndpoint(m.env);
  const body = new URLSearchParams({
    Action: "AssumeRoleWithWebIdentity",
    Version: "2011-06-15",
    RoleArn: roleArn,
    RoleSessionName: m.env.AWS_ROLE_SESSION_NAME || `tbot-${Date.now()}`,
    WebIdentityToken: token,
  }).toString();
  const where = `web identity (AssumeRoleWithWebIdentity for ${roleArn} at ${new URL(url).host})`;
  let res: Response;
  try {
    res = await m.fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded; charset=utf-8" },
      body,
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (e) {
    throw new Error(`${where}: ${(e as Error).message}`);
  }
  const text = await res.text();
  if (res.status !== 200) {
    const { code, message } = parseError(text);
    throw new Error(`${where} refused: ${code}${message ? ` (${message})` : ""}`);
  }
  const creds = /<Credentials>([\s\S]*?)<\/Credentials>/.exec(text)?.[1] ?? "";
  const ak = element(creds, "AccessKeyId");
  const sk = element(creds, "SecretAccessKey");
  const st = element(creds, "SessionToken");
  if (!ak || !sk || !st) throw new Error(`${where} answered without credentials`);
  return { accessKeyId: ak, secretAccessKey: sk, sessionToken: st };
}
