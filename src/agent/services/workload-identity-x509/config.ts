// The `workload-identity-x509` output's settings (reference §1.6): `selector: {name | labels}`
// (exactly one) and `include_federated_trust_bundles` (accepted; this cluster has no federated
// trust domains, so it changes nothing), read from tbot.yaml, written back by `tbot configure`,
// or built from the flags of `tbot start workload-identity-x509`.

import type { MapReader } from "../../../util/yaml-source.ts";
import type { Destination, OutputConfig } from "../../config/types.ts";
import { yamlBool } from "../../config/yaml-values.ts";
import type { CommonFields, DecodeKit, ValidateKit } from "../descriptor.ts";
import {
  decodeSelector,
  renderSelector,
  selectorFromFlags,
  selectorModeFlags,
  selectorModeHelp,
  validateSelector,
  type WorkloadSelector,
} from "./selector.ts";

export type WorkloadIdentityX509Service = OutputConfig & {
  type: "workload-identity-x509";
  selector: WorkloadSelector;
  includeFederatedTrustBundles: boolean;
};

export const workloadX509Keys = ["selector", "include_federated_trust_bundles"] as const;

export function decodeWorkloadX509(
  m: MapReader,
  common: CommonFields,
  { key, places }: DecodeKit,
): WorkloadIdentityX509Service {
  return {
    ...common,
    type: "workload-identity-x509",
    selector: decodeSelector(m, key, places),
    includeFederatedTrustBundles: m.has("include_federated_trust_bundles")
      ? yamlBool(m.get("include_federated_trust_bundles"))
      : false,
  };
}

export function validateWorkloadX509(
  s: WorkloadIdentityX509Service,
  { key, label, places }: ValidateKit,
): void {
  validateSelector(s.selector, key, label, places);
}

export function renderWorkloadX509(s: WorkloadIdentityX509Service): Record<string, unknown> {
  const out: Record<string, unknown> = { selector: renderSelector(s.selector) };
  if (s.includeFederatedTrustBundles) out.include_federated_trust_bundles = true;
  return out;
}

export const workloadX509ModeFlags = [...selectorModeFlags, "include-federated-trust-bundles"] as const;
export const workloadX509BooleanFlags = ["include-federated-trust-bundles"] as const;
export const workloadX509ModeHelp = `${selectorModeHelp}
      --include-federated-trust-bundles
                                 Also write federated trust domains' bundles (none here)`;

export function workloadX509FromFlags(
  flags: Readonly<Record<string, string | boolean | string[]>>,
  destination: Destination,
): WorkloadIdentityX509Service {
  return {
    type: "workload-identity-x509",
    destination,
    selector: selectorFromFlags(flags),
    includeFederatedTrustBundles: flags["include-federated-trust-bundles"] === true,
  };
}
