// host:port addresses, one parser for the whole tree: the config layer (proxy_server,
// auth_server, diag_addr, ssh_address) and the command lines (tauth --listen, tctl
// --auth-server, the bot's server address, node addresses in ssh-proxy-command). Parsed up
// front so that a typo is reported where it was written rather than as a connection failure later.

import { UserError } from "./errors.ts";

/** The reference's well-known ports: the proxy's HTTPS port and the auth service's. */
export const defaultProxyPort = 443;
export const defaultAuthPort = 3025;

export interface HostPort {
  host: string;
  port: number;
}

export interface HostPortOptions {
  /** Used when the text has no port; without it a missing port is an error. */
  defaultPort?: number;
  /** Accept port 0 ("any free port"), for listeners only. */
  allowPortZero?: boolean;
}

const hostLabel = /^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

function checkHost(host: string): string | undefined {
  if (host === "") return "the host is empty";
  if (host.includes(":")) return undefined; // bracketed IPv6, checked by the caller's split
  const name = host.endsWith(".") ? host.slice(0, -1) : host;
  if (name.length > 253) return "the host name is longer than 253 characters";
  const labels = name.split(".");
  if (labels.some((l) => !hostLabel.test(l))) return `"${host}" is not a valid host name or IP address`;
  // All-numeric dotted names are IPv4 addresses and must be in range.
  if (labels.every((l) => /^\d+$/.test(l))) {
    if (labels.length !== 4 || labels.some((l) => Number(l) > 255))
      return `"${host}" is not a valid IPv4 address`;
  }
  return undefined;
}

function checkIpv6(inner: string): string | undefined {
  // Enough to catch typos; the resolver is the final judge.
  if (!/^[0-9A-Fa-f:.]+(%[\w.-]+)?$/.test(inner) || !inner.includes(":"))
    return `"[${inner}]" is not a valid IPv6 address`;
  return undefined;
}

/**
 * Parses "host:port" (or "[v6]:port"). When the port is missing, `defaultPort` is used if
 * given, else it is an error. Returns the address or an error message without a prefix.
 */
export function parseHostPort(text: string, opts: HostPortOptions = {}): HostPort | string {
  const s = text.trim();
  const shape = `expected host:port, such as "teleport.example.com:443"`;
  if (s === "") return `the address is empty; ${shape}`;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) return `"${text}" has a URL scheme; ${shape} without "://"`;
  if (/[\s/?#@]/.test(s)) return `"${text}" is not an address; ${shape}`;

  let host: string;
  let portText: string | undefined;
  if (s.startsWith("[")) {
    const end = s.indexOf("]");
    if (end < 0) return `"${text}" has an unclosed "["; ${shape}`;
    host = s.slice(1, end);
    const rest = s.slice(end + 1);
    if (rest !== "" && !rest.startsWith(":")) return `"${text}" is not an address; ${shape}`;
    portText = rest === "" ? undefined : rest.slice(1);
    const bad = checkIpv6(host);
    if (bad) return bad;
  } else {
    const colons = s.split(":").length - 1;
    if (colons > 1) return `"${text}" looks like an IPv6 address; write it in brackets, as in "[::1]:3025"`;
    const i = s.lastIndexOf(":");
    host = i < 0 ? s : s.slice(0, i);
    portText = i < 0 ? undefined : s.slice(i + 1);
    const bad = checkHost(host);
    if (bad) return `${bad}; ${shape}`;
  }

  let port: number;
  if (portText === undefined) {
    if (opts.defaultPort === undefined) return `"${text}" has no port; ${shape}`;
    port = opts.defaultPort;
  } else {
    if (!/^\d{1,5}$/.test(portText)) return `"${portText}" in "${text}" is not a port number (1-65535)`;
    port = Number(portText);
    const min = opts.allowPortZero ? 0 : 1;
    if (port < min || port > 65535) return `port ${portText} in "${text}" is out of range (${min}-65535)`;
  }
  return { host, port };
}

export function formatHostPort(a: HostPort): string {
  return a.host.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** Parse and re-format, so that a stored address always carries its port. */
export function normalizeAddress(text: string, opts: HostPortOptions = {}): string | { error: string } {
  const r = parseHostPort(text, opts);
  return typeof r === "string" ? { error: r } : formatHostPort(r);
}

/** Parse or throw a UserError whose message starts with `what` (a flag or setting name). */
export function requireHostPort(text: string, what: string, opts: HostPortOptions = {}): HostPort {
  const r = parseHostPort(text, opts);
  if (typeof r === "string") throw new UserError(`${what}: ${r}`);
  return r;
}
