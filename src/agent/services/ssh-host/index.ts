// The `ssh_host` output type (reference §1.6): its descriptor for the registry.

import type { OutputDescriptor } from "../descriptor.ts";
import { decodeSshHost, renderSshHost, type SshHostService, sshHostKeys, validateSshHost } from "./config.ts";

export const sshHostOutput: OutputDescriptor<SshHostService> = {
  type: "ssh_host",
  keys: sshHostKeys,
  defaultNamePrefix: "ssh-host",
  decode: decodeSshHost,
  validate: validateSshHost,
  render: renderSshHost,
  async create(c, index) {
    const { SshHostOutput } = await import("./service.ts");
    return new SshHostOutput(c, index);
  },
};
