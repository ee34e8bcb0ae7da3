// Which STS endpoints an iam join may name. The client chooses the endpoint its request is
// signed for, and the server then sends that request there: if a client could name any host,
// it could answer its own GetCallerIdentity. So the host must be AWS's STS — the global
// endpoint, a regional one (sts.<region>.amazonaws.com), a FIPS one (sts-fips.<region>…) or a
// China one (….amazonaws.com.cn) — checked before any outbound call. The region is matched
// against AWS's region name shape with its known prefixes, not "any label": other
// *.amazonaws.com names (S3 website buckets) are customer-controlled.
//
// TAUTH_STS_ENDPOINTS adds exact host[:port] entries (a private STS endpoint, or a test's
// loopback STS); tauth logs them at start.

import { UserError } from "../../util/errors.ts";

const REGION = /^(us|eu|ap|sa|ca|me|af|il|mx|cn)(-gov|-iso|-isob|-isoe|-isof)?-[a-z]+-\d{1,2}$/;

/** The host of an STS endpoint, lower case, with ":443" dropped. */
export function normaliseHost(host: string): string {
  const h = host.trim().toLowerCase();
  return h.endsWith(":443") ? h.slice(0, -4) : h;
}

/** Whether `host` (as in the URL / Host header) is one of AWS's STS endpoints or an extra one. */
export function isAllowedStsHost(host: string, extra: readonly string[] = []): boolean {
  const h = normaliseHost(host);
  if (extra.includes(h)) return true;
  if (h === "sts.amazonaws.com") return true;
  const m = /^sts(-fips)?\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(h);
  if (!m || !REGION.test(m[2]!)) return false;
  // China's regions are only under .amazonaws.com.cn, and only they are.
  return m[2]!.startsWith("cn-") === !!m[3];
}

/** The STS endpoint for a region as the AWS SDKs resolve it (regional; China's domain). */
export function stsEndpointForRegion(region: string): string {
  return region.startsWith("cn-")
    ? `https://sts.${region}.amazonaws.com.cn`
    : `https://sts.${region}.amazonaws.com`;
}

/**
 * TAUTH_STS_ENDPOINTS: comma-separated host[:port] or https://host[:port] entries, as hosts.
 * A malformed entry is an error at tauth's start.
 */
export function extraStsHosts(env: Record<string, string | undefined> = process.env): string[] {
  const raw = env.TAUTH_STS_ENDPOINTS?.trim();
  if (!raw) return [];
  return raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      let url: URL;
      try {
        url = new URL(entry.includes("://") ? entry : `https://${entry}`);
      } catch {
        throw new UserError(`TAUTH_STS_ENDPOINTS: "${entry}" is not a host[:port] or https:// URL`);
      }
      if (url.protocol !== "https:" || (url.pathname !== "/" && url.pathname !== "") || url.search)
        throw new UserError(`TAUTH_STS_ENDPOINTS: "${entry}" must be https://host[:port] with no path`);
      return normaliseHost(url.host);
    });
}

/**
 * The STS endpoint a client signs for and its signing region: AWS_ENDPOINT_URL_STS (the SDKs'
 * per-service override), else AWS_ENDPOINT_URL, else the regional endpoint of AWS_REGION /
 * AWS_DEFAULT_REGION, else the global sts.amazonaws.com (signed for us-east-1), as the
 * reference's client resolves it.
 */
export function stsEndpoint(env: Record<string, string | undefined>): { url: string; region: string } {
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || "";
  const override = env.AWS_ENDPOINT_URL_STS || env.AWS_ENDPOINT_URL;
  if (override) {
    let u: URL;
    try {
      u = new URL(override);
    } catch {
      throw new UserError(`AWS_ENDPOINT_URL_STS "${override}" is not a URL`);
    }
    return { url: `${u.protocol}//${u.host}/`, region: region || "us-east-1" };
  }
  if (region) return { url: `${stsEndpointForRegion(region)}/`, region };
  return { url: "https://sts.amazonaws.com/", region: "us-east-1" };
}
