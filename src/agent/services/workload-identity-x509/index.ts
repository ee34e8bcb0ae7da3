// The `workload-identity-x509` output type (reference §1.6, §8.1): its descriptor for the registry.

import type { OutputDescriptor } from "../descriptor.ts";
import {
  decodeWorkloadX509,
  renderWorkloadX509,
  validateWorkloadX509,
  type WorkloadIdentityX509Service,
  workloadX509BooleanFlags,
  workloadX509FromFlags,
  workloadX509Keys,
  workloadX509ModeFlags,
  workloadX509ModeHelp,
} from "./config.ts";

export const workloadIdentityX509Output: OutputDescriptor<WorkloadIdentityX509Service> = {
  type: "workload-identity-x509",
  keys: workloadX509Keys,
  defaultNamePrefix: "workload-identity-x509",
  decode: decodeWorkloadX509,
  validate: validateWorkloadX509,
  render: renderWorkloadX509,
  startMode: {
    mode: "workload-identity-x509",
    flags: workloadX509ModeFlags,
    booleanFlags: workloadX509BooleanFlags,
    help: workloadX509ModeHelp,
    fromFlags: workloadX509FromFlags,
  },
  async create(c, index) {
    const { WorkloadIdentityX509Output } = await import("./service.ts");
    return new WorkloadIdentityX509Output(c, index);
  },
};
