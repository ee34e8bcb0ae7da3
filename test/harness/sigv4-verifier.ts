// A SigV4 verifier that answers as STS does: it recomputes the canonical request with
// src/crypto/aws-sigv4.ts's canonicalisation from the request as received, derives the signing
// key from the secret of the access key named in the Credential, and compares signatures.
// Failures carry STS's error codes, HTTP statuses and message wording (AWS's query-protocol
// services share them). Checked against AWS's test-suite .sreq files before the STS harness
// uses it (test/unit/crypto/aws-sigv4.test.ts).

import {
  amzDate,
  canonicalRequest,
  credentialScope,
  parseAuthorization,
  payloadHash,
  type SigV4Request,
  signature,
  signaturesEqual,
  signingKey,
  stringToSign,
} from "../../src/crypto/aws-sigv4.ts";

export interface KnownKey {
  secretAccessKey: string;
  /** Temporary credentials: the request must carry exactly this X-Amz-Security-Token. */
  sessionToken?: string;
}

export interface VerifyOptions {
  lookup(accessKeyId: string): KnownKey | undefined;
  region: string;
  service: string;
  now?: Date;
  /** Allowed clock difference; default 15 minutes, as AWS. */
  maxSkewMs?: number;
  /** Header names (lower case) that must be among the SignedHeaders, besides host. */
  requiredSignedHeaders?: string[];
}

export type VerifyResult =
  | { ok: true; accessKeyId: string; canonicalRequest: string; stringToSign: string; signedHeaders: string[] }
  | {
      ok: false;
      status: number;
      code: string;
      message: string;
      canonicalRequest?: string;
      stringToSign?: string;
    };

const fail = (status: number, code: string, message: string, extra: object = {}): VerifyResult => ({
  ok: false,
  status,
  code,
  message,
  ...extra,
});

export function verifySigV4(req: SigV4Request, opts: VerifyOptions): VerifyResult {
  const header = (n: string) => req.headers.filter(([k]) => k.toLowerCase() === n).map(([, v]) => v);
  const auth = header("authorization");
  if (auth.length === 0)
    return fail(403, "MissingAuthenticationToken", "Request is missing Authentication Token");
  const parsed = parseAuthorization(auth[0]!);
  if (typeof parsed === "string")
    return fail(400, "IncompleteSignature", `${parsed}. Authorization=${auth[0]}`);
  const date = header("x-amz-date")[0];
  if (date === undefined || !/^\d{8}T\d{6}Z$/.test(date))
    return fail(
      400,
      "IncompleteSignature",
      "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
    );
  for (const need of ["host", ...(opts.requiredSignedHeaders ?? [])])
    if (!parsed.signedHeaders.includes(need))
      return fail(400, "IncompleteSignature", `'${need}' must be a 'SignedHeader' in the AWS Authorization.`);
  if (parsed.date !== date.slice(0, 8))
    return fail(
      403,
      "SignatureDoesNotMatch",
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${parsed.date}' != '${date.slice(0, 8)}', from '${date}'.`,
    );
  if (parsed.region !== opts.region)
    return fail(
      403,
      "SignatureDoesNotMatch",
      `Credential should be scoped to a valid region, not '${parsed.region}'.`,
    );
  if (parsed.service !== opts.service)
    return fail(
      403,
      "SignatureDoesNotMatch",
      `Credential should be scoped to correct service: '${opts.service}'.`,
    );

  const now = opts.now ?? new Date();
  const skew = opts.maxSkewMs ?? 15 * 60_000;
  const sent = Date.parse(
    `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${date.slice(9, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`,
  );
  const minutes = Math.round(skew / 60_000);
  if (sent < now.getTime() - skew)
    return fail(
      403,
      "SignatureDoesNotMatch",
      `Signature expired: ${date} is now earlier than ${amzDate(new Date(now.getTime() - skew))} (${amzDate(now)} - ${minutes} min.)`,
    );
  if (sent > now.getTime() + skew)
    return fail(
      403,
      "SignatureDoesNotMatch",
      `Signature not yet current: ${date} is still later than ${amzDate(new Date(now.getTime() + skew))} (${amzDate(now)} + ${minutes} min.)`,
    );

  const key = opts.lookup(parsed.accessKeyId);
  const token = header("x-amz-security-token")[0];
  if (!key || (key.sessionToken ?? undefined) !== token)
    return fail(403, "InvalidClientTokenId", "The security token included in the request is invalid.");

  let creq: string;
  try {
    creq = canonicalRequest(req, parsed.signedHeaders, payloadHash(req.body));
  } catch {
    return fail(403, "SignatureDoesNotMatch", "A header listed in SignedHeaders is not in the request.");
  }
  const sts = stringToSign(date, credentialScope(date, parsed.region, parsed.service), creq);
  const expected = signature(signingKey(key.secretAccessKey, date, parsed.region, parsed.service), sts);
  if (!signaturesEqual(expected, parsed.signature))
    return fail(
      403,
      "SignatureDoesNotMatch",
      "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
      { canonicalRequest: creq, stringToSign: sts },
    );
  return {
    ok: true,
    accessKeyId: parsed.accessKeyId,
    canonicalRequest: creq,
    stringToSign: sts,
    signedHeaders: parsed.signedHeaders,
  };
}
