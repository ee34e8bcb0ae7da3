// The `ssh_host` output's settings (reference §1.6): principals and ca_type, plus our
// node-registration extensions node_name, ssh_address and labels.

import { normalizeAddress } from "../../../util/host-port.ts";
import type { MapReader, YNode } from "../../../util/yaml-source.ts";
import type { OutputConfig } from "../../config/types.ts";
import { describe, nonEmptyText, note, text } from "../../config/yaml-values.ts";
import type { CommonFields, DecodeKit, ValidateKit } from "../descriptor.ts";

export type SshHostService = OutputConfig & {
  type: "ssh_host";
  principals: string[];
  caType: "user" | "openssh";
  // Our extensions, so that the host can register itself in the cluster's node inventory:
  /** YAML `node_name`; the runtime defaults it to principals[0]. */
  nodeName?: string;
  /** YAML `ssh_address` (host:port); the runtime defaults it to "<node_name>:22". */
  sshAddress?: string;
  /** YAML `labels`. */
  labels: Record<string, string>;
};

export const sshHostKeys = ["principals", "ca_type", "node_name", "ssh_address", "labels"] as const;

export function decodeSshHost(
  m: MapReader,
  common: CommonFields,
  { key, places }: DecodeKit,
): SshHostService {
  const s: SshHostService = {
    ...common,
    type: "ssh_host",
    principals: [],
    caType: "user",
    labels: {},
  };
  if (m.has("principals")) {
    const p = m.get("principals");
    s.principals = p.list().map(nonEmptyText);
    note(places, `${key}.principals`, p);
  }
  if (m.has("ca_type")) {
    const n: YNode = m.get("ca_type");
    const v = text(n);
    if (v !== "user" && v !== "openssh") n.fail(`${n.path} must be "user" or "openssh", got "${v}"`);
    s.caType = v;
  }
  if (m.has("node_name")) s.nodeName = nonEmptyText(m.get("node_name"));
  if (m.has("ssh_address")) {
    const n: YNode = m.get("ssh_address");
    const a = normalizeAddress(text(n), { defaultPort: 22 });
    if (typeof a !== "string") n.fail(`${n.path}: ${a.error}`);
    s.sshAddress = a;
  }
  if (m.has("labels")) s.labels = decodeLabels(m.get("labels"));
  return s;
}

function decodeLabels(n: YNode): Record<string, string> {
  const m = n.map();
  const out: Record<string, string> = {};
  for (const k of m.keys()) {
    const v = m.get(k);
    if (k.trim() === "") v.fail(`${n.path} has an empty label name`);
    if (!v.isScalar()) v.fail(`${v.path} must be a string, got ${describe(v)}`);
    out[k] = text(v);
  }
  return out;
}

export function validateSshHost(s: SshHostService, { key, label, places }: ValidateKit): void {
  if (s.principals.length === 0)
    throw places.error(
      places.has(`${key}.principals`) ? `${key}.principals` : key,
      `${label} (ssh_host) needs at least one entry in principals: the host names the certificate is valid for`,
    );
  if (s.sshAddress !== undefined && typeof normalizeAddress(s.sshAddress, { defaultPort: 22 }) !== "string")
    throw places.error(key, `${label}.ssh_address "${s.sshAddress}" is not host:port`);
}

export function renderSshHost(s: SshHostService): Record<string, unknown> {
  const out: Record<string, unknown> = { principals: [...s.principals] };
  if (s.caType !== "user") out.ca_type = s.caType;
  if (s.nodeName !== undefined) out.node_name = s.nodeName;
  if (s.sshAddress !== undefined) out.ssh_address = s.sshAddress;
  if (Object.keys(s.labels).length > 0) out.labels = { ...s.labels };
  return out;
}
