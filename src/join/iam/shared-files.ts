// The shared credentials and config files (~/.aws/credentials, ~/.aws/config), as the AWS
// SDKs read them: INI sections; in the credentials file a profile's section is its name, in
// the config file "[profile name]" (and "[default]"); keys are case-insensitive. Only static
// keys are read here (aws_access_key_id, aws_secret_access_key, aws_session_token); a profile
// that gets credentials another way (role_arn, sso_*, credential_process) is named as such.

import type { AwsCredentials } from "../../crypto/aws-sigv4.ts";

export type IniSections = Map<string, Map<string, string>>;

export function parseIni(text: string): IniSections {
  const sections: IniSections = new Map();
  let current: Map<string, string> | undefined;
  let lastKey: string | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/^\s+/, "");
    if (!line || line.startsWith("#") || line.startsWith(";")) continue;
    const sec = /^\[\s*([^\]]*?)\s*\]/.exec(line);
    if (sec) {
      const name = sec[1]!.replace(/\s+/g, " ");
      current = sections.get(name) ?? new Map();
      sections.set(name, current);
      lastKey = undefined;
      continue;
    }
    // An indented line continues a nested setting (e.g. "s3 =\n  max_concurrent_requests = 2").
    if (raw !== line && lastKey !== undefined) continue;
    const eq = line.indexOf("=");
    if (eq < 0 || !current) continue;
    lastKey = line.slice(0, eq).trim().toLowerCase();
    // Inline comments need whitespace before "#" or ";", as the SDKs read them.
    current.set(
      lastKey,
      line
        .slice(eq + 1)
        .replace(/\s[#;].*$/, "")
        .trim(),
    );
  }
  return sections;
}

export type ProfileResult =
  | { credentials: AwsCredentials }
  | { other: string } // the profile exists but uses a source not read here
  | undefined;

export function staticCredentials(section: Map<string, string> | undefined, where: string): ProfileResult {
  if (!section) return undefined;
  const ak = section.get("aws_access_key_id");
  const sk = section.get("aws_secret_access_key");
  if (ak && sk) {
    const token = section.get("aws_session_token");
    return {
      credentials: { accessKeyId: ak, secretAccessKey: sk, ...(token ? { sessionToken: token } : {}) },
    };
  }
  const other = [
    "role_arn",
    "sso_session",
    "sso_start_url",
    "credential_process",
    "web_identity_token_file",
  ].find((k) => section.has(k));
  if (other) return { other: `${where} uses ${other}, which this tbot does not support` };
  if (ak || sk) return { other: `${where} has only one of aws_access_key_id and aws_secret_access_key` };
  return undefined;
}
