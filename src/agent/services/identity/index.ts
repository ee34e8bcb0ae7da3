// The `identity` output type (reference §1.6, §8.1–8.4): its descriptor for the registry.

import type { OutputDescriptor } from "../descriptor.ts";
import {
  decodeIdentity,
  type IdentityService,
  identityFromFlags,
  identityKeys,
  identityModeFlags,
  renderIdentity,
  validateIdentity,
} from "./config.ts";

export const identityOutput: OutputDescriptor<IdentityService> = {
  type: "identity",
  keys: identityKeys,
  defaultNamePrefix: "identity",
  decode: (m, common) => decodeIdentity(m, common),
  validate: validateIdentity,
  render: renderIdentity,
  startMode: { mode: "identity", flags: identityModeFlags, fromFlags: identityFromFlags },
  async create(c, index) {
    const { IdentityOutput } = await import("./service.ts");
    return new IdentityOutput(c, index);
  },
};
