// `tbot ssh-proxy-command`: OpenSSH's ProxyCommand from the generated ssh_config. It finds
// <node>.<cluster> in the cluster's node inventory (asking tauth with the output identity in
// the destination directory) and relays stdin/stdout to the node's SSH port.

import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { ApiClient } from "../protocol/client.ts";
import type { NodeResolveResponse } from "../protocol/messages.ts";
import { paths } from "../protocol/messages.ts";
import { UserError } from "../util/errors.ts";
import { requireHostPort } from "../util/host-port.ts";

export interface SshProxyTarget {
  /** An identity output's destination: its key, certificate and host CA authenticate us. */
  destinationDir: string;
  proxyServer: string;
  /** "<node>.<cluster>", as ssh was asked for it (%h). */
  host: string;
}

/**
 * Relays stdin/stdout to the node's SSH port; resolves with the exit code. The command line
 * (cli/tbot-args.ts) also takes the reference's other flags (--cluster, --user, --port,
 * --[no-]tls-routing, …) so that its generated ssh_config works; they change nothing here.
 */
export async function sshProxyCommand({
  destinationDir: dir,
  proxyServer: proxy,
  host,
}: SshProxyTarget): Promise<number> {
  const read = (f: string) => {
    try {
      return readFileSync(join(dir, f), "utf8");
    } catch (e) {
      throw new UserError(
        `cannot read ${join(dir, f)} (${(e as NodeJS.ErrnoException).code}); is tbot writing this destination?`,
      );
    }
  };
  const api = new ApiClient(proxy, {
    ca: [read("teleport-host-ca.crt")],
    cert: read("tlscert"),
    key: read("key"),
  });
  const node = await api.get<NodeResolveResponse>(paths.nodeResolve, { host });
  const target = requireHostPort(node.addr, `node ${node.name} has a bad address`, { defaultPort: 22 });
  return relay(target.host, target.port);
}

function relay(host: string, port: number): Promise<number> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    sock.once("error", (e) => {
      process.stderr.write(`ERROR: cannot connect to ${host}:${port}: ${e.message}\n`);
      resolve(1);
    });
    sock.once("connect", () => {
      process.stdin.pipe(sock);
      sock.pipe(process.stdout);
    });
    process.stdin.once("end", () => sock.end());
    sock.once("close", () => resolve(0));
  });
}
