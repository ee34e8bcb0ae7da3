// /scripts/install.sh, rendered per request: the cluster's address as the client reached it,
// the host CA (PEM and pin) the script was served with, and the table of packages with their
// SHA-256. The script downloads the package for this host over TLS pinned to that CA,
// verifies it, installs it with dpkg or rpm, and with --token also writes /etc/tbot.yaml and
// starts tbot. Every value spliced in is checked against a strict pattern first: the Host
// header is the client's, and this text is run as root.

import { UserError } from "../util/errors.ts";
// The template is a shell file of its own (bash -n checks it as is); the compiled binary embeds it.
import TEMPLATE from "./install.sh" with { type: "text" };
import type { PackageFile } from "./packages.ts";

export interface InstallScriptInput {
  clusterName: string;
  /** host[:port] as the client used it. */
  addr: string;
  caPin: string;
  caPem: string;
  packages: PackageFile[];
}

const HOST_PORT = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;
const PIN = /^sha256:[0-9a-f]{64}$/;
const PEM = /^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----\n?$/;

export function validInstallAddr(addr: string): boolean {
  return HOST_PORT.test(addr);
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new UserError(`cannot render install.sh: ${what}`, "bad_parameter");
}

export function renderInstallScript(i: InstallScriptInput): string {
  check(validInstallAddr(i.addr), `"${i.addr}" is not a host[:port]`);
  check(/^[A-Za-z0-9][A-Za-z0-9.-]*$/.test(i.clusterName), "bad cluster name");
  check(PIN.test(i.caPin), "bad CA pin");
  check(PEM.test(i.caPem), "bad CA certificate");
  // PackageDir only lists names matching its SAFE_NAME; formats and arches come from regexes.
  const table = i.packages
    .filter((p) => p.format && p.arch)
    .sort((a, b) => b.mtimeMs - a.mtimeMs) // newest first: awk takes the first match
    .map((p) => `${p.format} ${p.arch} ${p.name} ${p.sha256} ${p.size}`)
    .join("\n");
  // Replacer functions: a replacement string would give "$&" and the like a meaning.
  return TEMPLATE.replaceAll("@CLUSTER@", () => i.clusterName)
    .replaceAll("@ADDR@", () => i.addr)
    .replaceAll("@CA_PIN@", () => i.caPin)
    .replace("@CA_PEM@", () => i.caPem.trimEnd())
    .replace("@PACKAGES@", () => table);
}
