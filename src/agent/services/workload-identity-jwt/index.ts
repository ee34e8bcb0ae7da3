// The `workload-identity-jwt` output type (reference §1.6, §8.1): its descriptor for the registry.

import type { OutputDescriptor } from "../descriptor.ts";
import {
  decodeWorkloadJwt,
  renderWorkloadJwt,
  validateWorkloadJwt,
  type WorkloadIdentityJwtService,
  workloadJwtFromFlags,
  workloadJwtKeys,
  workloadJwtModeFlags,
  workloadJwtModeHelp,
} from "./config.ts";

export const workloadIdentityJwtOutput: OutputDescriptor<WorkloadIdentityJwtService> = {
  type: "workload-identity-jwt",
  keys: workloadJwtKeys,
  defaultNamePrefix: "workload-identity-jwt",
  decode: decodeWorkloadJwt,
  validate: validateWorkloadJwt,
  render: renderWorkloadJwt,
  startMode: {
    mode: "workload-identity-jwt",
    flags: workloadJwtModeFlags,
    help: workloadJwtModeHelp,
    fromFlags: workloadJwtFromFlags,
  },
  async create(c, index) {
    const { WorkloadIdentityJwtOutput } = await import("./service.ts");
    return new WorkloadIdentityJwtOutput(c, index);
  },
};
