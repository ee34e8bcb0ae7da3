// The AWS credential chain, in the order AWS documents for its SDKs: environment variables,
// the shared credentials file then the shared config file (profile AWS_PROFILE or "default"),
// web identity (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN), container credentials (ECS/EKS),
// EC2 instance metadata. The first source that has credentials wins; when none
// has, one error names every source tried and why it gave nothing. Secrets are never logged
// or put in messages.

import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { AwsCredentials } from "../../crypto/aws-sigv4.ts";
import { UserError } from "../../util/errors.ts";
import { containerCredentials, type Fetcher, instanceCredentials } from "./metadata-credentials.ts";
import { parseIni, staticCredentials } from "./shared-files.ts";
import { webIdentityCredentials } from "./web-identity.ts";

export interface ChainEnv {
  env: Record<string, string | undefined>;
  fetch: Fetcher;
  home: string;
  readFile(path: string): string;
}

export interface Resolved {
  credentials: AwsCredentials;
  /** Which source gave them, for --debug ("environment", "shared credentials file …"…). */
  source: string;
}

export const defaultChainEnv = (): ChainEnv => ({
  env: process.env,
  fetch: (url, init) => fetch(url, init),
  home: homedir(),
  readFile: (p) => readFileSync(p, "utf8"),
});

function fromEnvironment(env: ChainEnv["env"]): AwsCredentials | undefined {
  const ak = env.AWS_ACCESS_KEY_ID;
  const sk = env.AWS_SECRET_ACCESS_KEY;
  if (!ak && !sk) return undefined;
  if (!ak || !sk)
    throw new UserError(
      `AWS credentials in the environment are incomplete: ${ak ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID"} is not set`,
    );
  const token = env.AWS_SESSION_TOKEN;
  return { accessKeyId: ak, secretAccessKey: sk, ...(token ? { sessionToken: token } : {}) };
}

function readOptional(c: ChainEnv, path: string): string | undefined {
  try {
    return c.readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new UserError(`AWS shared file ${path} cannot be read: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
}

/**
 * The environment with AWS_REGION taken from the profile's `region` in the config file when
 * neither AWS_REGION nor AWS_DEFAULT_REGION is set (the SDKs' order), so the STS endpoint is
 * the regional one wherever the SDKs would pick it.
 */
export function withProfileRegion(c: ChainEnv): ChainEnv["env"] {
  if (c.env.AWS_REGION || c.env.AWS_DEFAULT_REGION) return c.env;
  const profile = c.env.AWS_PROFILE || "default";
  const text = readOptional(c, c.env.AWS_CONFIG_FILE || join(c.home, ".aws", "config"));
  if (!text) return c.env;
  const sections = parseIni(text);
  const section =
    profile === "default"
      ? (sections.get("default") ?? sections.get("profile default"))
      : sections.get(`profile ${profile}`);
  const region = section?.get("region");
  return region ? { ...c.env, AWS_REGION: region } : c.env;
}

export async function resolveAwsCredentials(c: ChainEnv = defaultChainEnv()): Promise<Resolved> {
  const tried: string[] = [];
  const env = fromEnvironment(c.env);
  if (env) return { credentials: env, source: "environment (AWS_ACCESS_KEY_ID)" };
  tried.push("environment (AWS_ACCESS_KEY_ID not set)");

  const profile = c.env.AWS_PROFILE || "default";
  const credFile = c.env.AWS_SHARED_CREDENTIALS_FILE || join(c.home, ".aws", "credentials");
  const confFile = c.env.AWS_CONFIG_FILE || join(c.home, ".aws", "config");
  let profileSeen = false;
  for (const [file, section, kind] of [
    [credFile, profile, "shared credentials file"],
    [confFile, profile === "default" ? "default" : `profile ${profile}`, "config file"],
  ] as const) {
    const text = readOptional(c, file);
    if (text === undefined) {
      tried.push(`${kind} ${file} (absent)`);
      continue;
    }
    const sections = parseIni(text);
    // The config file also accepts "[profile default]".
    const found =
      sections.get(section) ??
      (profile === "default" && kind === "config file" ? sections.get("profile default") : undefined);
    if (found) profileSeen = true;
    const r = staticCredentials(found, `profile "${profile}" in ${file}`);
    if (r && "credentials" in r)
      return { credentials: r.credentials, source: `${kind} ${file} (profile ${profile})` };
    tried.push(r ? r.other : `${kind} ${file} (no profile "${profile}" with keys)`);
  }
  if (c.env.AWS_PROFILE && !profileSeen)
    throw new UserError(
      `AWS_PROFILE names profile "${profile}", which is in neither ${credFile} nor ${confFile}`,
    );

  const m = { env: withProfileRegion(c), fetch: c.fetch, readFile: c.readFile };
  try {
    const web = await webIdentityCredentials(m);
    if (web) return { credentials: web, source: "web identity (AWS_WEB_IDENTITY_TOKEN_FILE)" };
    tried.push("web identity (AWS_WEB_IDENTITY_TOKEN_FILE not set)");
    const ecs = await containerCredentials(m);
    if (ecs) return { credentials: ecs, source: "container credentials" };
    tried.push("container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/FULL_URI not set)");
    const imds = await instanceCredentials(m);
    if (imds) return { credentials: imds, source: "EC2 instance metadata" };
  } catch (e) {
    throw new UserError(`AWS credentials: ${(e as Error).message}`);
  }
  const imdsWhere =
    (c.env.AWS_EC2_METADATA_DISABLED ?? "").toLowerCase() === "true"
      ? "disabled by AWS_EC2_METADATA_DISABLED"
      : `${c.env.AWS_EC2_METADATA_SERVICE_ENDPOINT || "http://169.254.169.254"} unreachable`;
  tried.push(`EC2 instance metadata (${imdsWhere})`);
  throw new UserError(`no AWS credentials found for the iam join; tried: ${tried.join("; ")}`);
}
