// host:port parsing shared by the command lines ("[::1]:3025", "example.com:443", "3025"?).

export function parseHostPort(text: string, defaultPort?: number): { host: string; port: number } | string {
  const s = text.trim();
  if (!s) return "address is empty";
  let host: string;
  let portText: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(.*))?$/.exec(s);
  if (v6) {
    host = v6[1]!;
    portText = v6[2];
  } else {
    const i = s.lastIndexOf(":");
    if (i >= 0 && s.indexOf(":") !== i) return `"${text}" is ambiguous; write IPv6 addresses as [addr]:port`;
    host = i >= 0 ? s.slice(0, i) : s;
    portText = i >= 0 ? s.slice(i + 1) : undefined;
  }
  if (!host) return `"${text}" has no host; expected host:port`;
  if (/[\s/]/.test(host) || host.includes("://")) return `"${text}" is not a host:port address`;
  if (portText === undefined || portText === "") {
    if (defaultPort === undefined) return `"${text}" has no port; expected host:port`;
    return { host, port: defaultPort };
  }
  if (!/^\d+$/.test(portText)) return `"${text}" has an invalid port "${portText}"`;
  const port = Number(portText);
  if (port < 1 || port > 65535) return `"${text}" has port ${port}, outside 1-65535`;
  return { host, port };
}
