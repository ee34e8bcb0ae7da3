// The effective configuration as a heartbeat reports it: `tbot configure`'s YAML with every
// secret replaced. Secrets: the join token (for `token` joins it is the credential), the
// bound-keypair registration secret, the join URI's token and secret, and any field whose name
// says it holds one (token, secret, password, private key) unless it names a file (`*_path`):
// a path to a key is fine, its contents are not. Redacted by field name over the whole tree, so
// an output type's own secret fields are covered too.

import { parse, stringify } from "yaml";
import { renderConfigYaml } from "./render.ts";
import type { BotConfig } from "./types.ts";

export const REDACTED = "REDACTED";

/** Field names (snake_case, as in tbot.yaml) whose values are secrets. */
const SECRET_NAME = /(^|_)(token|secret|password|passphrase|private_key|static_key|key_data|credentials?)$/;

function isSecretField(key: string): boolean {
  return !key.endsWith("_path") && SECRET_NAME.test(key);
}

/** tbot+<kind>+<method>://<token>[:<secret>]@<host>: both before the `@` are secrets. */
export function redactJoinUriSecrets(uri: string): string {
  return uri.replace(/^([^:]*:\/\/)[^@/]*@/, `$1${REDACTED}@`);
}

function redactTree(v: unknown, key: string): unknown {
  if (key === "join_uri" && typeof v === "string") return redactJoinUriSecrets(v);
  if (isSecretField(key) && v !== null && v !== undefined) {
    // `onboarding.token` may also be a path to the file holding it: an absolute path stays.
    if (key === "token" && typeof v === "string" && v.startsWith("/")) return v;
    return REDACTED;
  }
  if (Array.isArray(v)) return v.map((x) => redactTree(x, ""));
  if (v && typeof v === "object")
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, redactTree(x, k)]));
  return v;
}

/** A tbot.yaml-shaped object with its secrets replaced. */
export function redactConfigObject(yamlShaped: Record<string, unknown>): Record<string, unknown> {
  return redactTree(yamlShaped, "") as Record<string, unknown>;
}

/** The effective configuration as redacted YAML, cut to `maxChars` (marked when cut). */
export function redactedConfigYaml(c: BotConfig, maxChars: number): string {
  const obj = parse(renderConfigYaml(c, "")) as Record<string, unknown>;
  const text = stringify(redactConfigObject(obj), { lineWidth: 0 });
  if (text.length <= maxChars) return text;
  const mark = "\n# … cut to fit the heartbeat\n";
  return text.slice(0, Math.max(0, maxChars - mark.length)) + mark;
}
