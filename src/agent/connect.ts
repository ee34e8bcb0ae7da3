// First contact with the cluster, verified: CA pins (or a CA file) when talking to an auth
// server directly, the system roots (SSL_CERT_FILE honoured) for a proxy address, and no
// verification only with --insecure. After a join, the cluster's host CA from the join result
// is what we trust.

import { readFileSync } from "node:fs";
import { pemBlocks } from "../crypto/pem.ts";
import { caPinOfCert } from "../crypto/pin.ts";
import { ApiClient, systemRoots } from "../protocol/client.ts";
import type { PingResponse } from "../protocol/messages.ts";
import { paths } from "../protocol/messages.ts";
import { UserError } from "../util/errors.ts";
import { type BotConfig, joinSettings } from "./config/index.ts";

export function serverAddress(c: BotConfig): string {
  if (!c.authServer && !c.proxyServer && !c.joinUri)
    throw new UserError("either a proxy or auth address must be set");
  return joinSettings(c).address;
}

/** Whether the address is a proxy's (publicly trusted certificate) rather than tauth's own. */
export function isProxyAddress(c: BotConfig): boolean {
  return joinSettings(c).addressKind === "proxy";
}

export interface Contact {
  api: ApiClient;
  ping: PingResponse;
}

function caFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new UserError(
      `onboarding.ca_path ${path} cannot be read: ${(e as NodeJS.ErrnoException).code ?? e}`,
    );
  }
  const certs = pemBlocks(text)
    .filter((b) => b.label === "CERTIFICATE")
    .map((b) => b.text);
  if (!certs.length) throw new UserError(`onboarding.ca_path ${path} holds no PEM certificate`);
  return certs;
}

export async function firstContact(c: BotConfig, env = process.env): Promise<Contact> {
  const addr = serverAddress(c);
  if (c.insecure) {
    const api = new ApiClient(addr, { insecure: true });
    const ping = await api.get<PingResponse>(paths.ping);
    return { api, ping };
  }
  if (c.onboarding.caPath) {
    const api = new ApiClient(addr, { ca: caFile(c.onboarding.caPath) });
    return { api, ping: await api.get<PingResponse>(paths.ping) };
  }
  if (c.onboarding.caPins.length) {
    // Fetch the CA unverified, check it against a pin, then talk only to a server that holds a
    // certificate from that CA.
    const probe = new ApiClient(addr, { insecure: true });
    const unverified = await probe.get<PingResponse>(paths.ping);
    const pins = c.onboarding.caPins.map((p) => p.toLowerCase());
    const trusted = (unverified.host_ca_certs ?? []).filter((cert) => pins.includes(caPinOfCert(cert)));
    if (!trusted.length)
      throw new UserError(
        `the auth server at ${addr} does not present a CA matching the configured CA pin${pins.length > 1 ? "s" : ""} (${pins.join(", ")}); check --ca-pin against "tctl status"`,
        "access_denied",
      );
    // No second, verified ping: the join itself goes over this verified client, so a server
    // without the pinned CA's certificate fails there (one round trip saved on every join).
    return { api: new ApiClient(addr, { ca: trusted }), ping: unverified };
  }
  if (isProxyAddress(c)) {
    const api = new ApiClient(addr, { ca: systemRoots(env) });
    return { api, ping: await api.get<PingResponse>(paths.ping) };
  }
  throw new UserError(
    'cannot verify the auth server on first contact: set onboarding.ca_pins (--ca-pin, from "tctl status") or onboarding.ca_path, use proxy_server with a publicly trusted certificate, or --insecure for development only',
  );
}

/** A client trusting the cluster's host CA and authenticating with an identity. */
export function clusterClient(
  addr: string,
  tlsCaPems: string[],
  certPem: string,
  keyPem: string,
  proxyMode: boolean,
  env = process.env,
): ApiClient {
  // Behind a proxy address the server certificate is a public one; directly, it is the host CA's.
  const ca = proxyMode ? systemRoots(env) : tlsCaPems;
  return new ApiClient(addr, { ca, cert: certPem, key: keyPem, keepAlive: false });
}
