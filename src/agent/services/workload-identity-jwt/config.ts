// The `workload-identity-jwt` output's settings (reference §1.6): `selector: {name | labels}`
// and `audiences` (at least one: a JWT SVID's aud is required), read from tbot.yaml, written
// back by `tbot configure`, or built from the flags of `tbot start workload-identity-jwt`.

import type { MapReader } from "../../../util/yaml-source.ts";
import type { Destination, OutputConfig } from "../../config/types.ts";
import { note, text } from "../../config/yaml-values.ts";
import type { CommonFields, DecodeKit, ValidateKit } from "../descriptor.ts";
import {
  decodeSelector,
  renderSelector,
  selectorFromFlags,
  selectorModeFlags,
  selectorModeHelp,
  validateSelector,
  type WorkloadSelector,
} from "../workload-identity-x509/selector.ts";

export type WorkloadIdentityJwtService = OutputConfig & {
  type: "workload-identity-jwt";
  selector: WorkloadSelector;
  audiences: string[];
};

export const workloadJwtKeys = ["selector", "audiences"] as const;

export function decodeWorkloadJwt(
  m: MapReader,
  common: CommonFields,
  { key, places }: DecodeKit,
): WorkloadIdentityJwtService {
  const s: WorkloadIdentityJwtService = {
    ...common,
    type: "workload-identity-jwt",
    selector: decodeSelector(m, key, places),
    audiences: [],
  };
  if (m.has("audiences")) {
    const n = m.get("audiences");
    note(places, `${key}.audiences`, n);
    // A single string is one audience (as yaml.v3 would refuse it, be explicit instead).
    if (n.isScalar()) n.fail(`${n.path} must be a list, e.g. audiences: ["https://api.example.com"]`);
    s.audiences = n.list().map((a) => {
      const v = text(a).trim();
      if (v === "") a.fail(`${a.path} must not be empty`);
      return v;
    });
  }
  return s;
}

export function validateWorkloadJwt(
  s: WorkloadIdentityJwtService,
  { key, label, places }: ValidateKit,
): void {
  validateSelector(s.selector, key, label, places);
  if (s.audiences.length === 0)
    throw places.error(
      places.has(`${key}.audiences`) ? `${key}.audiences` : key,
      `${label} (workload-identity-jwt) needs at least one audience: audiences: ["https://api.example.com"]`,
    );
}

export function renderWorkloadJwt(s: WorkloadIdentityJwtService): Record<string, unknown> {
  return { selector: renderSelector(s.selector), audiences: [...s.audiences] };
}

export const workloadJwtModeFlags = [...selectorModeFlags, "audience"] as const;
export const workloadJwtModeHelp = `${selectorModeHelp}
      --audience AUD             The JWT's audience (required; several: a,b)`;

export function workloadJwtFromFlags(
  flags: Readonly<Record<string, string | boolean | string[]>>,
  destination: Destination,
): WorkloadIdentityJwtService {
  const a = flags.audience;
  const audiences = (Array.isArray(a) ? a : typeof a === "string" ? [a] : [])
    .flatMap((x) => x.split(","))
    .map((x) => x.trim())
    .filter((x) => x !== "");
  return { type: "workload-identity-jwt", destination, selector: selectorFromFlags(flags), audiences };
}
