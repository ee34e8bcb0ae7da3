// The server's checks of the signed sts:GetCallerIdentity request a client sends (the
// reference's validateSTSIdentityRequest), all made before the request goes anywhere:
// POST to https://<allowed STS host>/ exactly, a Host header (if any) naming that host, the
// challenge header present once, equal to the challenge this join was given and among the
// signed headers, and the body exactly GetCallerIdentity. STS then checks the signature.

import { timingSafeEqual } from "node:crypto";
import { parseAuthorization } from "../../crypto/aws-sigv4.ts";
import { accessDenied, badParameter } from "../../util/errors.ts";
import { CHALLENGE_HEADER, GET_CALLER_IDENTITY_BODY, type StsIdentityRequest } from "./messages.ts";
import { isAllowedStsHost, normaliseHost } from "./sts-hosts.ts";

/** Headers that describe one hop, not the signed request; the forwarding fetch sets its own. */
const HOP_HEADERS = new Set([
  "content-length",
  "connection",
  "transfer-encoding",
  "keep-alive",
  "te",
  "upgrade",
]);

export interface CheckedRequest {
  url: string;
  host: string;
  headers: [string, string][];
  body: string;
}

function equalText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function checkStsRequest(
  raw: unknown,
  challenge: string,
  extraHosts: readonly string[],
): CheckedRequest {
  const r = raw as Partial<StsIdentityRequest> | undefined;
  if (!r || typeof r.url !== "string" || !Array.isArray(r.headers) || typeof r.body !== "string")
    throw badParameter("expected an iam_solution with the signed sts_identity_request (url, headers, body)");
  const headers = r.headers.filter(
    (h): h is [string, string] =>
      Array.isArray(h) && h.length === 2 && typeof h[0] === "string" && typeof h[1] === "string",
  );
  if (headers.length !== r.headers.length)
    throw badParameter("sts_identity_request.headers must be [name, value] pairs");
  let url: URL;
  try {
    url = new URL(r.url);
  } catch {
    throw badParameter(`sts_identity_request.url "${r.url}" is not a URL`);
  }
  // The host first: nothing else about a request for another host matters.
  if (url.protocol !== "https:" || !isAllowedStsHost(url.host, extraHosts))
    throw accessDenied(
      `IAM join request names STS host "${url.host}", which is not an AWS STS endpoint allowed by this auth service`,
    );
  if (url.pathname !== "/" || url.search || url.username || url.password || url.hash)
    throw accessDenied(`IAM join request URL must be https://${url.host}/ exactly, got "${r.url}"`);
  if (r.method !== "POST") throw accessDenied(`IAM join request method must be POST, got "${r.method}"`);
  const named = (n: string) => headers.filter(([k]) => k.toLowerCase() === n);
  const hostHeaders = named("host");
  if (
    hostHeaders.length > 1 ||
    (hostHeaders[0] && normaliseHost(hostHeaders[0][1]) !== normaliseHost(url.host))
  )
    throw accessDenied("IAM join request's Host header does not name the URL's STS host");

  const sent = named(CHALLENGE_HEADER.toLowerCase());
  if (sent.length === 0)
    throw accessDenied(`IAM join request has no ${CHALLENGE_HEADER} header: the challenge is missing`);
  if (sent.length > 1 || !equalText(sent[0]![1], challenge))
    throw accessDenied(
      `IAM join request's ${CHALLENGE_HEADER} is not the challenge issued for this join (a replayed or foreign request)`,
    );
  const auth = named("authorization");
  if (auth.length !== 1)
    throw accessDenied("IAM join request is not signed (no single Authorization header)");
  const parsed = parseAuthorization(auth[0]![1]);
  if (typeof parsed === "string") throw accessDenied(`IAM join request's Authorization header: ${parsed}`);
  if (!parsed.signedHeaders.includes(CHALLENGE_HEADER.toLowerCase()))
    throw accessDenied(`IAM join request does not sign the ${CHALLENGE_HEADER} header`);
  if (r.body !== GET_CALLER_IDENTITY_BODY)
    throw accessDenied(`IAM join request body must be exactly "${GET_CALLER_IDENTITY_BODY}"`);

  const forwarded = headers.filter(([k]) => !HOP_HEADERS.has(k.toLowerCase()));
  if (hostHeaders.length === 0) forwarded.unshift(["Host", url.host]);
  return { url: `https://${url.host}/`, host: url.host, headers: forwarded, body: r.body };
}
