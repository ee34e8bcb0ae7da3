// The `workload-identity-api` service's settings (reference §1.6): `listen` (unix:///path; the
// reference's tcp:// is refused here), `selector: {name | labels}`, `attestors` (only `unix`,
// which is always on). No destination: it writes no files, it serves the SPIFFE Workload API.
// Daemon only (refused with oneshot, as the reference does).

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

export type WorkloadIdentityApiService = OutputConfig & {
  type: "workload-identity-api";
  /** `unix:///absolute/path.sock` */
  listen: string;
  selector: WorkloadSelector;
  /** The attestors named under `attestors:` (only "unix" is accepted; it is always on). */
  attestors: string[];
};

export const workloadApiKeys = ["listen", "selector", "attestors"] as const;
const referenceAttestors = ["kubernetes", "docker", "podman", "systemd", "sigstore"];

export function decodeWorkloadApi(
  m: MapReader,
  common: CommonFields,
  { key, places }: DecodeKit,
): WorkloadIdentityApiService {
  const s: WorkloadIdentityApiService = {
    ...common,
    type: "workload-identity-api",
    listen: "",
    selector: decodeSelector(m, key, places),
    attestors: [],
  };
  if (m.has("listen")) {
    const n = m.get("listen");
    note(places, `${key}.listen`, n);
    s.listen = text(n).trim();
  }
  if (m.has("attestors")) {
    const am = m.get("attestors").map();
    for (const k of am.keys()) {
      const v = am.get(k);
      if (referenceAttestors.includes(k))
        v.fail(`${v.path}: the ${k} attestor is not supported by this build; only unix is`);
      if (k !== "unix") v.fail(`${v.path}: unknown attestor "${k}"; this build has only unix`);
      // `unix: {}` (or empty): the unix attestor has no settings.
      if (!v.missing) v.map().strict([]);
      s.attestors.push(k);
    }
  }
  return s;
}

/** `unix:///abs/path`, else the message (one line) for the listen value. */
export function listenProblem(listen: string): string | undefined {
  if (listen.startsWith("tcp://"))
    return `listen "${listen}": tcp:// is not supported by this build; use unix:///path/to/workload.sock`;
  if (!/^unix:\/\/\/[^?#]*[^/?#]$/.test(listen))
    return `listen "${listen}" must be unix:///absolute/path, e.g. unix:///run/tbot/workload.sock`;
  return undefined;
}

export function validateWorkloadApi(
  s: WorkloadIdentityApiService,
  { key, label, places }: ValidateKit,
): void {
  validateSelector(s.selector, key, label, places);
  const at = places.has(`${key}.listen`) ? `${key}.listen` : key;
  if (s.listen === "")
    throw places.error(
      at,
      `${label} (workload-identity-api) needs listen: the Workload API socket, e.g. unix:///run/tbot/workload.sock`,
    );
  const p = listenProblem(s.listen);
  if (p) throw places.error(at, `${label}.${p}`);
}

export function renderWorkloadApi(s: WorkloadIdentityApiService): Record<string, unknown> {
  const out: Record<string, unknown> = { listen: s.listen, selector: renderSelector(s.selector) };
  if (s.attestors.length) out.attestors = Object.fromEntries(s.attestors.map((a) => [a, {}]));
  return out;
}

export const workloadApiModeFlags = [...selectorModeFlags, "listen"] as const;
export const workloadApiModeHelp = `${selectorModeHelp}
      --listen unix:///PATH      The Workload API socket (required; no --destination: no files)`;

export function workloadApiFromFlags(
  flags: Readonly<Record<string, string | boolean | string[]>>,
  destination: Destination,
): WorkloadIdentityApiService {
  return {
    type: "workload-identity-api",
    destination,
    listen: typeof flags.listen === "string" ? flags.listen : "",
    selector: selectorFromFlags(flags),
    attestors: [],
  };
}
