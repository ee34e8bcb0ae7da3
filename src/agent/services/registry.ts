// The output types this build implements, one line each. Adding a type is adding its folder
// (src/agent/services/<type>/, exporting a descriptor from index.ts) and its line here; the
// config decoder, validation, `tbot configure`, `tbot start <mode>` and the bot runtime read
// this list. Types the reference documents but this build lacks are in reference-types.ts.

import { applicationOutput } from "./application/index.ts";
import { databaseOutput } from "./database/index.ts";
import type { OutputDescriptor } from "./descriptor.ts";
import { identityOutput } from "./identity/index.ts";
import { sshHostOutput } from "./ssh-host/index.ts";
import { workloadIdentityApiOutput } from "./workload-identity-api/index.ts";
import { workloadIdentityJwtOutput } from "./workload-identity-jwt/index.ts";
import { workloadIdentityX509Output } from "./workload-identity-x509/index.ts";

export const outputRegistry: readonly OutputDescriptor[] = [
  // One line per type, in the order `tbot help` and messages list them.
  identityOutput,
  sshHostOutput,
  databaseOutput,
  applicationOutput,
  workloadIdentityX509Output,
  workloadIdentityJwtOutput,
  workloadIdentityApiOutput,
];

/** The descriptor for a `type:` as written (canonical name or alias), or undefined. */
export function outputDescriptor(type: string): OutputDescriptor | undefined {
  return outputRegistry.find((d) => d.type === type || d.aliases?.includes(type));
}

/** The canonical names of the implemented types, in registry order. */
export const supportedServiceTypes: readonly string[] = outputRegistry.map((d) => d.type);

/** The descriptor whose `tbot start <mode>` is `mode`, or undefined. */
export function startModeDescriptor(mode: string): OutputDescriptor | undefined {
  return outputRegistry.find((d) => d.startMode?.mode === mode);
}
