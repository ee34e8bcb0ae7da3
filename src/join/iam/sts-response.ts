// STS's answer to GetCallerIdentity, in either of its encodings: the query protocol's XML
// (what STS sends by default) or JSON (when the request said Accept: application/json, as the
// reference's client does). Only the few fields needed are read; STS's documents are flat
// and their values plain text, so a small extractor is enough (no XML parser dependency).

import type { AwsIdentity } from "./arn-glob.ts";

const unescapeXml = (s: string) =>
  s
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&");

/** The text of the first `<name>` element without children, unescaped. */
export function element(xml: string, name: string): string | undefined {
  const m = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml);
  return m ? unescapeXml(m[1]!).trim() : undefined;
}

function json(text: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(text);
    return v && typeof v === "object" ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const at = (v: unknown, ...path: string[]): unknown =>
  path.reduce<unknown>(
    (o, k) => (o && typeof o === "object" ? (o as Record<string, unknown>)[k] : undefined),
    v,
  );

/** The identity in a 200 answer, or undefined when it has none. */
export function parseIdentity(body: string): Partial<AwsIdentity> | undefined {
  const j = json(body);
  if (j) {
    const r = at(j, "GetCallerIdentityResponse", "GetCallerIdentityResult");
    if (!r) return undefined;
    const account = at(r, "Account");
    const arn = at(r, "Arn");
    return {
      ...(typeof account === "string" ? { account } : {}),
      ...(typeof arn === "string" ? { arn } : {}),
    };
  }
  const result = /<GetCallerIdentityResult>([\s\S]*?)<\/GetCallerIdentityResult>/.exec(body)?.[1];
  if (result === undefined) return undefined;
  const account = element(result, "Account");
  const arn = element(result, "Arn");
  return { ...(account ? { account } : {}), ...(arn ? { arn } : {}) };
}

/** An error answer's code and message (ErrorResponse XML or STS's JSON error shape). */
export function parseError(body: string): { code: string; message: string } {
  const j = json(body);
  const code = j ? (at(j, "Error", "Code") ?? at(j, "__type") ?? at(j, "code")) : element(body, "Code");
  const message = j ? (at(j, "Error", "Message") ?? at(j, "message")) : element(body, "Message");
  return {
    code: typeof code === "string" && code ? code : "unknown error",
    message: typeof message === "string" ? message.replace(/\s+/g, " ").trim().slice(0, 300) : "",
  };
}
