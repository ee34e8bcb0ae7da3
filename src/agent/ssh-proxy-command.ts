// `tbot ssh-proxy-command`: OpenSSH's ProxyCommand from the generated ssh_config. It finds
// <node>.<cluster> in the cluster's node inventory (asking tauth with the output identity in
// the destination directory) and relays stdin/stdout to the node's SSH port.

import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ApiClient } from "../protocol/client.ts";
import type { NodeResolveResponse } from "../protocol/messages.ts";
import { paths } from "../protocol/messages.ts";
import { UserError } from "../util/errors.ts";
import { parseHostPort } from "../cli/host-port.ts";

export async function sshProxyCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowNegative: true,
    options: {
      "destination-dir": { type: "string" },
      "proxy-server": { type: "string" },
      cluster: { type: "string" },
      user: { type: "string" },
      host: { type: "string" },
      port: { type: "string" },
      "tls-routing": { type: "boolean" },
      "connection-upgrade": { type: "boolean" },
      resume: { type: "boolean" },
      debug: { type: "boolean", short: "d" },
    },
  });
  const dir = values["destination-dir"];
  const proxy = values["proxy-server"];
  const host = values.host;
  if (!dir || !proxy || !host) throw new UserError("ssh-proxy-command needs --destination-dir, --proxy-server and --host");
  const read = (f: string) => {
    try {
      return readFileSync(join(dir, f), "utf8");
    } catch (e) {
      throw new UserError(`cannot read ${join(dir, f)} (${(e as NodeJS.ErrnoException).code}); is tbot writing this destination?`);
    }
  };
  const api = new ApiClient(proxy, { ca: [read("teleport-host-ca.crt")], cert: read("tlscert"), key: read("key") });
  const node = await api.get<NodeResolveResponse>(paths.nodeResolve, { host });
  const target = parseHostPort(node.addr, 22);
  if (typeof target === "string") throw new UserError(`node ${node.name} has a bad address: ${target}`);
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
