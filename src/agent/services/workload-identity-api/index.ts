// The `workload-identity-api` service type (reference §1.6): its descriptor for the registry.
// Daemon only, no destination.

import type { OutputDescriptor } from "../descriptor.ts";
import {
  decodeWorkloadApi,
  renderWorkloadApi,
  validateWorkloadApi,
  type WorkloadIdentityApiService,
  workloadApiFromFlags,
  workloadApiKeys,
  workloadApiModeFlags,
  workloadApiModeHelp,
} from "./config.ts";

export const workloadIdentityApiOutput: OutputDescriptor<WorkloadIdentityApiService> = {
  type: "workload-identity-api",
  keys: workloadApiKeys,
  defaultNamePrefix: "workload-identity-api",
  daemonOnly: true,
  noDestination: true,
  decode: decodeWorkloadApi,
  validate: validateWorkloadApi,
  render: renderWorkloadApi,
  startMode: {
    mode: "workload-identity-api",
    flags: workloadApiModeFlags,
    help: workloadApiModeHelp,
    fromFlags: workloadApiFromFlags,
  },
  async create(c, index) {
    const { WorkloadIdentityApiOutput } = await import("./service.ts");
    return new WorkloadIdentityApiOutput(c, index);
  },
};
