// AWS Signature Version 4 (header form), as AWS documents it in "Create a signed AWS API
// request": canonical request → string to sign → HMAC-SHA256 signing key chain → Authorization
// header. Used by the `iam` join client to sign sts:GetCallerIdentity; the pieces are exported
// so a verifier (the STS test harness, or a server) computes the same canonical forms.
//
// Checked against AWS's published SigV4 test suite (test/vectors/aws-sigv4).

import { createHash, createHmac, timingSafeEqual } from "node:crypto";

export const SIGV4_ALGORITHM = "AWS4-HMAC-SHA256";
/** The payload hash of an empty body. */
export const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  /** Temporary (STS-issued) credentials carry one; it is sent as X-Amz-Security-Token. */
  sessionToken?: string;
}

/** A request as SigV4 sees it. */
export interface SigV4Request {
  method: string;
  /**
   * The path as meant, not percent-encoded ("/a b/ሴ"): it is encoded once here. To sign a URL,
   * pass its pathname decoded (`requestFromUrl` does).
   */
  path: string;
  /** Query parameters, names and values decoded; repeated names allowed. */
  query?: [string, string][];
  /** Header name/value pairs in the order sent; a repeated name appears once per value. */
  headers: [string, string][];
  body?: string | Uint8Array;
}

export interface SignOptions {
  credentials: AwsCredentials;
  region: string;
  service: string;
  /** Signing time; default now. */
  now?: Date;
  /** Also send (and sign) X-Amz-Content-Sha256, as S3 requires; default false. */
  contentSha256Header?: boolean;
  /** Header names (any case) sent but left out of the signature. */
  unsignedHeaders?: string[];
  /** Remove "." and ".." segments and empty segments from the path; default true (not for S3). */
  normalizePath?: boolean;
}

export interface SignedRequest {
  /** The request's headers plus X-Amz-Date, X-Amz-Security-Token, X-Amz-Content-Sha256 when added, and Authorization. */
  headers: [string, string][];
  authorization: string;
  amzDate: string;
  signedHeaders: string;
  canonicalRequest: string;
  stringToSign: string;
  signature: string;
}

const sha256Hex = (data: string | Uint8Array): string => createHash("sha256").update(data).digest("hex");
const hmac = (key: string | Uint8Array, data: string): Buffer =>
  createHmac("sha256", key).update(data).digest();

/** RFC 3986 percent-encoding of everything but the unreserved characters A-Z a-z 0-9 - . _ ~ (UTF-8). */
export function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** "20150830T123600Z" for a date. */
export function amzDate(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
}

/** The canonical URI: dot segments and empty segments resolved (unless told not to), each segment encoded once. */
export function canonicalUri(path: string, normalize = true): string {
  if (!path.startsWith("/")) path = `/${path}`;
  let segments = path.split("/").slice(1);
  if (normalize) {
    const out: string[] = [];
    for (const s of segments) {
      if (s === "" || s === ".") continue;
      if (s === "..") out.pop();
      else out.push(s);
    }
    const trailing = out.length > 0 && /\/\.{0,2}$/.test(path);
    segments = trailing ? [...out, ""] : out;
  }
  return `/${segments.map(uriEncode).join("/")}`;
}

/** The canonical query string: names and values encoded, sorted by name then value (code-point order of the encoded forms). */
export function canonicalQuery(query: [string, string][] = []): string {
  return query
    .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
    .sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
}

/** A header value as SigV4 canonicalises it: trimmed, runs of spaces inside folded to one. */
export function canonicalHeaderValue(v: string): string {
  return v.trim().replace(/\s+/g, " ");
}

/**
 * The canonical headers block (each `name:value\n`, names lower-cased and sorted, repeated
 * names' values joined with "," in the order sent) for the headers named in `signed` (lower
 * case), and the SignedHeaders list.
 */
export function canonicalHeaders(
  headers: [string, string][],
  signed: string[],
): { canonical: string; signedHeaders: string } {
  const values = new Map<string, string[]>();
  for (const [name, value] of headers) {
    const n = name.toLowerCase();
    if (!signed.includes(n)) continue;
    const list = values.get(n) ?? [];
    list.push(canonicalHeaderValue(value));
    values.set(n, list);
  }
  const names = [...new Set(signed)].sort();
  for (const n of names) if (!values.has(n)) throw new Error(`signed header ${n} is not in the request`);
  return {
    canonical: names.map((n) => `${n}:${values.get(n)!.join(",")}\n`).join(""),
    signedHeaders: names.join(";"),
  };
}

/** The canonical request (its six lines). `signed` lists the header names to sign, lower case. */
export function canonicalRequest(
  req: SigV4Request,
  signed: string[],
  payloadHash: string,
  normalizePath = true,
): string {
  const { canonical, signedHeaders } = canonicalHeaders(req.headers, signed);
  return [
    req.method.toUpperCase(),
    canonicalUri(req.path, normalizePath),
    canonicalQuery(req.query),
    canonical,
    signedHeaders,
    payloadHash,
  ].join("\n");
}

/** "20150830/us-east-1/service/aws4_request". */
export function credentialScope(date: string, region: string, service: string): string {
  return `${date.slice(0, 8)}/${region}/${service}/aws4_request`;
}

export function stringToSign(amzDateValue: string, scope: string, canonicalRequestText: string): string {
  return [SIGV4_ALGORITHM, amzDateValue, scope, sha256Hex(canonicalRequestText)].join("\n");
}

/** kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request"). */
export function signingKey(secret: string, date: string, region: string, service: string): Uint8Array {
  const kDate = hmac(`AWS4${secret}`, date.slice(0, 8));
  return hmac(hmac(hmac(kDate, region), service), "aws4_request");
}

/** The hex signature of a string to sign. */
export function signature(key: Uint8Array, stringToSignText: string): string {
  return hmac(key, stringToSignText).toString("hex");
}

export function payloadHash(body: string | Uint8Array | undefined): string {
  return body === undefined || body.length === 0 ? EMPTY_SHA256 : sha256Hex(body);
}

/** Signs a request: returns its headers with the SigV4 ones added, and the intermediate forms. */
export function signRequest(req: SigV4Request, opts: SignOptions): SignedRequest {
  const date = amzDate(opts.now ?? new Date());
  const hash = payloadHash(req.body);
  const has = (n: string) => req.headers.some(([k]) => k.toLowerCase() === n);
  const headers: [string, string][] = req.headers.filter(([k]) => k.toLowerCase() !== "authorization");
  if (!has("x-amz-date")) headers.push(["X-Amz-Date", date]);
  if (opts.credentials.sessionToken !== undefined && !has("x-amz-security-token"))
    headers.push(["X-Amz-Security-Token", opts.credentials.sessionToken]);
  if (opts.contentSha256Header && !has("x-amz-content-sha256")) headers.push(["X-Amz-Content-Sha256", hash]);
  // The request's own X-Amz-Date (the test suite sets it) is the one signed.
  const sentDate = headers.find(([k]) => k.toLowerCase() === "x-amz-date")![1];
  const unsigned = new Set((opts.unsignedHeaders ?? []).map((n) => n.toLowerCase()));
  unsigned.add("authorization");
  const signed = [...new Set(headers.map(([k]) => k.toLowerCase()))].filter((n) => !unsigned.has(n));
  if (!signed.includes("host")) throw new Error("SigV4: the request has no Host header to sign");
  const creq = canonicalRequest({ ...req, headers }, signed, hash, opts.normalizePath ?? true);
  const scope = credentialScope(sentDate, opts.region, opts.service);
  const sts = stringToSign(sentDate, scope, creq);
  const sig = signature(
    signingKey(opts.credentials.secretAccessKey, sentDate, opts.region, opts.service),
    sts,
  );
  const signedHeaders = [...signed].sort().join(";");
  const authorization = `${SIGV4_ALGORITHM} Credential=${opts.credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${sig}`;
  return {
    headers: [...headers, ["Authorization", authorization]],
    authorization,
    amzDate: sentDate,
    signedHeaders,
    canonicalRequest: creq,
    stringToSign: sts,
    signature: sig,
  };
}

/** A SigV4Request for a URL (Host from the URL unless given; path and query decoded). */
export function requestFromUrl(
  method: string,
  url: string | URL,
  headers: [string, string][] = [],
  body?: string | Uint8Array,
): SigV4Request {
  const u = new URL(url);
  const h = headers.some(([k]) => k.toLowerCase() === "host")
    ? headers
    : [["Host", u.host] as [string, string], ...headers];
  return { method, path: decodePath(u.pathname), query: parseQuery(u.search.slice(1)), headers: h, body };
}

/** Each segment of a wire path percent-decoded ("/a%20b" → "/a b"). */
export function decodePath(path: string): string {
  return path
    .split("/")
    .map((s) => decodeURIComponent(s))
    .join("/");
}

/** A raw query string ("a=1&b&c=%20") as decoded pairs; "+" is kept as "+" (SigV4 is not form encoding). */
export function parseQuery(raw: string): [string, string][] {
  if (raw === "") return [];
  return raw.split("&").map((part) => {
    const i = part.indexOf("=");
    const [k, v] = i < 0 ? [part, ""] : [part.slice(0, i), part.slice(i + 1)];
    return [decodeURIComponent(k), decodeURIComponent(v)];
  });
}

export interface ParsedAuthorization {
  accessKeyId: string;
  /** yyyymmdd */
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

/**
 * Parses `AWS4-HMAC-SHA256 Credential=AK/date/region/service/aws4_request,
 * SignedHeaders=a;b, Signature=hex`. Returns a reason string when it is not well formed.
 */
export function parseAuthorization(value: string): ParsedAuthorization | string {
  const m = /^AWS4-HMAC-SHA256 +(.*)$/s.exec(value.trim());
  if (!m) return "the Authorization header does not start with AWS4-HMAC-SHA256";
  const fields = new Map<string, string>();
  for (const part of m[1]!.split(",")) {
    const p = part.trim();
    const i = p.indexOf("=");
    if (i < 0) return `malformed Authorization component '${p}'`;
    fields.set(p.slice(0, i), p.slice(i + 1));
  }
  const credential = fields.get("Credential");
  const signedHeaders = fields.get("SignedHeaders");
  const sig = fields.get("Signature");
  if (!credential) return "Authorization header requires 'Credential' parameter";
  if (!signedHeaders) return "Authorization header requires 'SignedHeaders' parameter";
  if (!sig) return "Authorization header requires 'Signature' parameter";
  const c = credential.split("/");
  if (c.length !== 5 || c[4] !== "aws4_request" || !/^\d{8}$/.test(c[1]!))
    return `Credential should be scoped to a valid region/service: '${credential}'`;
  if (!/^[0-9a-f]{64}$/.test(sig)) return "the Signature is not 64 lower-case hex digits";
  return {
    accessKeyId: c[0]!,
    date: c[1]!,
    region: c[2]!,
    service: c[3]!,
    signedHeaders: signedHeaders.split(";"),
    signature: sig,
  };
}

/** Constant-time comparison of two hex signatures. */
export function signaturesEqual(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}
