// The single-string joining parameters of §1.7:
//   tbot+<proxy|auth>+<method>://<token>[:<parameter>]@<host>[:<port>]
// The parameter is a secret (the bound-keypair registration secret), so no message here
// ever repeats it.

import { formatHostPort, parseHostPort } from "../../util/host-port.ts";
import { defaultAuthPort, defaultProxyPort } from "./defaults.ts";
import { joinMethodProblem } from "./join-methods.ts";

export interface JoinUri {
  addressKind: "proxy" | "auth";
  /** host:port, with the default port of the address kind filled in. */
  address: string;
  /** Underscore spelling, as in onboarding.join_method. */
  joinMethod: string;
  token: string;
  /** Method-specific; for bound_keypair the registration secret. */
  parameter?: string;
}

const shape = "expected tbot+<proxy|auth>+<join-method>://<token>[:<secret>]@<host>:<port>";

/** Hides the secret parameter so that the URI can be quoted in a message or a log. */
export function redactJoinUri(uri: string): string {
  return uri.replace(/^([^:]*:\/\/[^:@/]*:)[^@]*@/, "$1****@");
}

function decode(part: string): string | undefined {
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
}

/** Returns the parsed URI or an error message (without a prefix). */
export function parseJoinUri(uri: string): JoinUri | string {
  const shown = `"${redactJoinUri(uri)}"`;
  const m = /^tbot\+([a-z]+)\+([a-z0-9_-]+):\/\/([^@/]*)@([^/]+?)\/?$/i.exec(uri.trim());
  if (!m) return `invalid join URI ${shown}: ${shape}`;
  const kind = m[1]!.toLowerCase();
  if (kind !== "proxy" && kind !== "auth")
    return `invalid join URI ${shown}: the address kind must be "proxy" or "auth", got "${m[1]}"`;

  const joinMethod = m[2]!.toLowerCase().replaceAll("-", "_");
  const methodProblem = joinMethodProblem(joinMethod);
  if (methodProblem) return `invalid join URI ${shown}: ${methodProblem}`;

  const userinfo = m[3]!;
  const colon = userinfo.indexOf(":");
  const token = decode(colon < 0 ? userinfo : userinfo.slice(0, colon));
  const parameter = colon < 0 ? undefined : decode(userinfo.slice(colon + 1));
  if (token === undefined || (colon >= 0 && parameter === undefined))
    return `invalid join URI ${shown}: bad percent-encoding in the token or secret`;
  if (token === "") return `invalid join URI ${shown}: the token name is missing; ${shape}`;

  const addr = parseHostPort(m[4]!, { defaultPort: kind === "proxy" ? defaultProxyPort : defaultAuthPort });
  if (typeof addr === "string") return `invalid join URI ${shown}: ${addr}`;

  const out: JoinUri = { addressKind: kind, address: formatHostPort(addr), joinMethod, token };
  if (parameter !== undefined && parameter !== "") out.parameter = parameter;
  return out;
}
