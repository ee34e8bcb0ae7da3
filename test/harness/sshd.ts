// A real OpenSSH sshd on a loopback port, configured from a tbot ssh_host output: HostKey,
// HostCertificate and TrustedUserCAKeys. Runs in the foreground (-D) and is stopped by PID.

import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, type Proc, startProcess, tempDir } from "./proc.ts";

export const sshdPath = ["/usr/sbin/sshd", "/usr/bin/sshd"].find((p) => existsSync(p)) ?? "/usr/sbin/sshd";

export interface SshdHandle {
  port: number;
  proc: Proc;
  stop(): Promise<number>;
}

export async function startSshd(hostDir: string, port?: number): Promise<SshdHandle> {
  const p = port ?? (await freePort());
  const dir = tempDir("sshd-");
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 }); // privilege separation directory
  const config = join(dir, "sshd_config");
  writeFileSync(
    config,
    [
      `Port ${p}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${join(hostDir, "ssh_host")}`,
      `HostCertificate ${join(hostDir, "ssh_host-cert.pub")}`,
      `TrustedUserCAKeys ${join(hostDir, "ssh_host-user-ca.pub")}`,
      `PidFile ${join(dir, "sshd.pid")}`,
      "AuthorizedKeysFile none",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PubkeyAuthentication yes",
      "PermitRootLogin prohibit-password",
      "UsePAM no",
      "StrictModes no",
      "LogLevel VERBOSE",
      "",
    ].join("\n"),
  );
  const proc = startProcess([sshdPath, "-D", "-e", "-f", config]);
  await proc.waitFor(/Server listening on 127\.0\.0\.1 port/);
  return { port: p, proc, stop: () => proc.stop() };
}
