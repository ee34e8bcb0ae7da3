// known_hosts and ssh_config for the identity output (reference §8.3, §8.4).

import { certAuthorityLine } from "../../../crypto/identity-file.ts";

export function knownHosts(proxyHost: string, cluster: string, hostCaKeys: string[]): string {
  return hostCaKeys.map((k) => `${certAuthorityLine([proxyHost, cluster, `*.${cluster}`], k)}\n`).join("");
}

/** Single-quote for a ProxyCommand: ' → '"'"', then % → %% so OpenSSH expands no tokens. */
export function proxyQuote(s: string): string {
  return `'${s.replace(/'/g, `'"'"'`).replace(/\n/g, `'"\\n"'`)}'`.replace(/%/g, "%%");
}

export interface SshConfigParams {
  proxyHost: string;
  proxyPort: number;
  cluster: string;
  destDir: string;
  /** argv that runs tbot (the compiled binary, or bun + script when run from source). */
  tbotCommand: string[];
}

export function sshConfig(p: SshConfigParams): string {
  const proxy = `${p.proxyHost}:${p.proxyPort}`;
  const cmd = [
    ...p.tbotCommand.map(proxyQuote),
    "ssh-proxy-command",
    `--destination-dir=${proxyQuote(p.destDir)}`,
    `--proxy-server=${proxyQuote(proxy)}`,
    `--cluster=${proxyQuote(p.cluster)}`,
    "--no-tls-routing",
    "--no-connection-upgrade",
    "--resume",
    "--user=%r",
    "--host=%h",
    "--port=%p",
  ].join(" ");
  return `# Begin generated Teleport configuration for ${p.proxyHost} by tbot

# Common flags for all ${p.cluster} hosts
Host *.${p.cluster} ${p.proxyHost}
    UserKnownHostsFile "${p.destDir}/known_hosts"
    IdentityFile "${p.destDir}/key"
    CertificateFile "${p.destDir}/key-cert.pub"

# Flags for all ${p.cluster} hosts except the proxy
Host *.${p.cluster} !${p.proxyHost}
    Port 3022
    ProxyCommand ${cmd}

# End generated Teleport configuration
`;
}

/** How to run this very tbot again: the compiled executable, or bun with our entry script. */
export function selfCommand(): string[] {
  const script = process.argv[1] ?? "";
  if (script.startsWith("/$bunfs/") || script.startsWith("B:/~BUN/")) return [process.execPath];
  return [process.execPath, script, "tbot"];
}
