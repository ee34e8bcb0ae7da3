// The SigV4 signer (src/crypto/aws-sigv4.ts) and the STS harness's verifier
// (test/harness/sigv4-verifier.ts) against AWS's published SigV4 test suite
// (test/vectors/aws-sigv4, README.md there gives origin and licence). Each case checks the
// canonical request (.creq), the string to sign (.sts) and the Authorization header (.authz)
// from the request (.req), and the verifier accepts the signed request (.sreq).

import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import {
  type AwsCredentials,
  amzDate,
  canonicalRequest,
  canonicalUri,
  credentialScope,
  parseAuthorization,
  parseQuery,
  payloadHash,
  requestFromUrl,
  type SigV4Request,
  signature,
  signingKey,
  signRequest,
  stringToSign,
} from "../../../src/crypto/aws-sigv4.ts";
import { verifySigV4 } from "../../harness/sigv4-verifier.ts";
import { vectorsDir } from "../vectors.ts";

const DIR = vectorsDir("aws-sigv4");
const CREDS = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" };
const REGION = "us-east-1";
const SERVICE = "service";
const NOW = new Date("2015-08-30T12:36:00Z");
// The session token of the suite's post-sts-token cases (from their .req/.sreq files).
const STS_TOKEN = readFileSync(
  join(DIR, "post-sts-token/post-sts-header-before/post-sts-header-before.req"),
  "utf8",
).match(/X-Amz-Security-Token:(.*)/)![1]!;

/**
 * Parses a test-suite request file: request line (the URI may hold a space), headers (a line
 * starting with white space continues the previous header and, as the suite reads it, adds a
 * value to it), a blank line, the body.
 */
function parseReq(text: string): SigV4Request {
  const nl = text.indexOf("\n\n");
  const head = nl < 0 ? text : text.slice(0, nl);
  const body = nl < 0 ? "" : text.slice(nl + 2);
  const [requestLine, ...lines] = head.split("\n");
  const method = requestLine!.slice(0, requestLine!.indexOf(" "));
  const uri = requestLine!.slice(method.length + 1, requestLine!.lastIndexOf(" "));
  const q = uri.indexOf("?");
  const headers: [string, string][] = [];
  for (const line of lines) {
    if (/^\s/.test(line)) headers.push([headers[headers.length - 1]![0], line]);
    else {
      const c = line.indexOf(":");
      headers.push([line.slice(0, c), line.slice(c + 1)]);
    }
  }
  return {
    method,
    path: q < 0 ? uri : uri.slice(0, q),
    query: q < 0 ? [] : parseQuery(uri.slice(q + 1)),
    headers,
    body,
  };
}

interface Case {
  name: string;
  dir: string;
  file(ext: string): string;
}

function cases(): Case[] {
  const out: Case[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d).sort()) {
      const p = join(d, e);
      if (!statSync(p).isDirectory()) continue;
      if (readdirSync(p).some((f) => f.endsWith(".req")))
        out.push({ name: e, dir: p, file: (ext) => readFileSync(join(p, `${e}.${ext}`), "utf8") });
      else walk(p);
    }
  };
  walk(DIR);
  return out;
}

const ALL = cases();

/**
 * Upstream inconsistencies (README.md): in these two the .creq signs Content-Length but the
 * .sts/.authz were computed on another canonical request.
 *  - post-x-www-form-urlencoded: .sts/.authz are of the request with Content-Length unsigned
 *    (its .sreq sends none); checked that way.
 *  - post-x-www-form-urlencoded-parameters: .sts is of a canonical request with
 *    "charset=utf8" and no content-length; only .creq and the .sts → .authz step are checked.
 */
const UNSIGNED: Record<string, string[]> = {
  "post-x-www-form-urlencoded": ["content-length"],
  "post-sts-header-after": ["x-amz-security-token"],
};
const STS_UNREPRODUCIBLE = new Set(["post-x-www-form-urlencoded-parameters"]);

describe("AWS SigV4 test suite", () => {
  test("has the cases the README lists", () => {
    expect(ALL.length).toBe(31);
    for (const n of ["get-vanilla", "post-vanilla", "get-utf8", "get-space", "post-sts-header-before"])
      expect(ALL.map((c) => c.name)).toContain(n);
  });

  for (const c of ALL) {
    describe(c.name, () => {
      const req = parseReq(c.file("req"));
      const creqFile = c.file("creq");
      const stsFile = c.file("sts");
      const authzFile = c.file("authz");
      const credentials: AwsCredentials = c.name.startsWith("post-sts-")
        ? { ...CREDS, sessionToken: STS_TOKEN }
        : CREDS;

      test("canonical request (.creq) from .req", () => {
        const signed = [...new Set(req.headers.map(([k]) => k.toLowerCase()))];
        expect(canonicalRequest(req, signed, payloadHash(req.body))).toBe(creqFile);
      });

      test("string to sign (.sts) from .creq", () => {
        // Both urlencoded cases: the .sts is not of the .creq (see above).
        if (c.name.startsWith("post-x-www-form-urlencoded")) return;
        expect(stringToSign("20150830T123600Z", credentialScope("20150830", REGION, SERVICE), creqFile)).toBe(
          stsFile,
        );
      });

      test("signature in .authz from .sts", () => {
        const key = signingKey(CREDS.secretAccessKey, "20150830", REGION, SERVICE);
        expect(authzFile.endsWith(`Signature=${signature(key, stsFile)}`)).toBe(true);
      });

      test("signRequest gives .creq/.sts/.authz and the .sreq headers", () => {
        if (STS_UNREPRODUCIBLE.has(c.name)) return;
        const s = signRequest(req, {
          credentials,
          region: REGION,
          service: SERVICE,
          now: NOW,
          unsignedHeaders: UNSIGNED[c.name],
        });
        expect(s.stringToSign).toBe(stsFile);
        expect(s.authorization).toBe(authzFile);
        if (!UNSIGNED[c.name]?.includes("content-length")) expect(s.canonicalRequest).toBe(creqFile);
        // Every header line of the .sreq is among the signed request's headers.
        const sreq = parseReq(c.file("sreq"));
        const ours = s.headers.map(([k, v]) => `${k.toLowerCase()}:${v.trim()}`);
        for (const [k, v] of sreq.headers) expect(ours).toContain(`${k.toLowerCase()}:${v.trim()}`);
      });

      test("the verifier accepts .sreq (and refuses it altered)", () => {
        const sreq = parseReq(c.file("sreq"));
        const opts = {
          lookup: (ak: string) =>
            ak === CREDS.accessKeyId
              ? { secretAccessKey: CREDS.secretAccessKey, sessionToken: credentials.sessionToken }
              : undefined,
          region: REGION,
          service: SERVICE,
          now: NOW,
        };
        const r = verifySigV4(sreq, opts);
        if (STS_UNREPRODUCIBLE.has(c.name)) {
          // Its .authz signs a canonical request other than the one its .sreq makes.
          expect(r).toMatchObject({ ok: false, code: "SignatureDoesNotMatch" });
          return;
        }
        expect(r).toMatchObject({ ok: true, accessKeyId: "AKIDEXAMPLE", stringToSign: stsFile });
        if (r.ok && !UNSIGNED[c.name]) expect(r.canonicalRequest).toBe(creqFile);
        const tampered = { ...sreq, method: sreq.method === "GET" ? "PUT" : "GET" };
        expect(verifySigV4(tampered, opts)).toMatchObject({
          ok: false,
          status: 403,
          code: "SignatureDoesNotMatch",
        });
      });
    });
  }
});

describe("signer details", () => {
  test("canonical URI: normalisation and single encoding", () => {
    expect(canonicalUri("/")).toBe("/");
    expect(canonicalUri("//example//")).toBe("/example/");
    expect(canonicalUri("/a/b/../c/./d")).toBe("/a/c/d");
    expect(canonicalUri("/a b/ሴ")).toBe("/a%20b/%E1%88%B4");
    expect(canonicalUri("//x//", false)).toBe("//x//");
  });

  test("x-amz-date format", () => {
    expect(amzDate(new Date("2015-08-30T12:36:00.123Z"))).toBe("20150830T123600Z");
  });

  test("session token and content hash headers are added and signed; Authorization parses", () => {
    const req = requestFromUrl(
      "POST",
      "https://sts.amazonaws.com/",
      [["Content-Type", "application/x-www-form-urlencoded; charset=utf-8"]],
      "Action=GetCallerIdentity&Version=2011-06-15",
    );
    const s = signRequest(req, {
      credentials: { ...CREDS, sessionToken: "tok" },
      region: "us-east-1",
      service: "sts",
      now: NOW,
      contentSha256Header: true,
    });
    expect(s.signedHeaders).toBe("content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token");
    expect(s.headers).toContainEqual(["X-Amz-Security-Token", "tok"]);
    expect(s.headers).toContainEqual(["Host", "sts.amazonaws.com"]);
    const p = parseAuthorization(s.authorization);
    expect(p).toMatchObject({
      accessKeyId: "AKIDEXAMPLE",
      date: "20150830",
      region: "us-east-1",
      service: "sts",
    });
    expect(
      parseAuthorization("AWS4-HMAC-SHA256 Credential=AK/20150830/us-east-1/sts/aws4_request"),
    ).toContain("SignedHeaders");
  });

  test("query parsing keeps '+' and decodes percent escapes", () => {
    expect(parseQuery("a=1+2&b&c=%20")).toEqual([
      ["a", "1+2"],
      ["b", ""],
      ["c", " "],
    ]);
  });
});
