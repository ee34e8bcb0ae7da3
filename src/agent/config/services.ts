// One entry of `services` (or its deprecated alias `outputs`). Only the output types this
// build produces are decoded; the reference's other types are named as unsupported so that
// a user with a valid reference file is not told their file is wrong.

import { normalizeAddress } from "../../util/host-port.ts";
import type { MapReader, YNode } from "../../util/yaml-source.ts";
import { decodeDestination } from "./destination.ts";
import type { ConfigPlaces } from "./places.ts";
import type { Destination, IdentityService, ServiceConfig, SshHostService } from "./types.ts";
import { describe, nonEmptyText, note, text, yamlBool } from "./yaml-values.ts";

export const supportedServiceTypes: readonly string[] = ["identity", "ssh_host"];

/** Documented by the reference (§1.6) but not produced by this build. */
const otherReferenceTypes = [
  "application",
  "application-proxy",
  "application-tunnel",
  "database",
  "database-tunnel",
  "example",
  "kubernetes",
  "kubernetes/argo-cd",
  "kubernetes/v2",
  "spiffe-svid",
  "spiffe-workload-api",
  "ssh-multiplexer",
  "workload-identity-api",
  "workload-identity-aws-roles-anywhere",
  "workload-identity-jwt",
  "workload-identity-x509",
];

const commonKeys = ["type", "name", "destination", "credential_ttl", "renewal_interval", "roles"];

export function decodeService(n: YNode, key: string, places: ConfigPlaces): ServiceConfig {
  const m = n.map();
  note(places, key, n);
  if (m.keys().includes("roles")) rejectRoles(m.get("roles"));
  if (!m.has("type")) n.fail(`${n.path}.type is required (e.g. type: identity)`);
  const typeNode = m.get("type");
  const type = text(typeNode);
  const supported = supportedServiceTypes.join(", ");
  switch (type) {
    case "identity":
      return decodeIdentity(m.strict([...commonKeys, "ssh_config", "allow_reissue", "cluster"]), key, places);
    case "ssh_host":
      return decodeSshHost(
        m.strict([...commonKeys, "principals", "ca_type", "node_name", "ssh_address", "labels"]),
        key,
        places,
      );
  }
  if (otherReferenceTypes.includes(type))
    typeNode.fail(`service type "${type}" is not supported by this build; supported types: ${supported}`);
  return typeNode.fail(`unrecognized service type (${type}); supported types: ${supported}`);
}

export function rejectRoles(n: YNode): never {
  return n.fail(
    `${n.path}: roles field is no longer supported; remove it (a service receives every role the bot may use)`,
  );
}

interface Common {
  name?: string;
  destination: Destination;
  credentialTtlMs?: number;
  renewalIntervalMs?: number;
}

function decodeCommon(m: MapReader, key: string, places: ConfigPlaces): Common {
  const destNode = m.get("destination");
  if (destNode.missing)
    m.self.fail(`${destNode.path} is required (e.g. destination: {type: directory, path: /opt/machine-id})`);
  const out: Common = {
    destination: decodeDestination(destNode, { places, key: `${key}.destination`, isStorage: false }),
  };
  if (m.has("name")) {
    out.name = text(m.get("name"));
    note(places, `${key}.name`, m.get("name"));
  }
  for (const [yamlKey, field] of [
    ["credential_ttl", "credentialTtlMs"],
    ["renewal_interval", "renewalIntervalMs"],
  ] as const) {
    if (!m.has(yamlKey)) continue;
    out[field] = m.get(yamlKey).duration();
    note(places, `${key}.${yamlKey}`, m.get(yamlKey));
  }
  return out;
}

function decodeIdentity(m: MapReader, key: string, places: ConfigPlaces): IdentityService {
  const s: IdentityService = {
    type: "identity",
    ...decodeCommon(m, key, places),
    sshConfig: m.has("ssh_config") ? onOff(m.get("ssh_config")) : true,
    allowReissue: m.has("allow_reissue") ? yamlBool(m.get("allow_reissue")) : false,
  };
  if (m.has("cluster")) s.cluster = nonEmptyText(m.get("cluster"));
  return s;
}

/** ssh_config is documented as on/off; a boolean means the same. */
function onOff(n: YNode): boolean {
  const v = n.isScalar() ? (n.node as { value: unknown }).value : undefined;
  if (typeof v === "boolean") return v;
  if (v === "on") return true;
  if (v === "off") return false;
  return n.fail(`${n.path} must be "on" or "off", got ${describe(n)}`);
}

function decodeSshHost(m: MapReader, key: string, places: ConfigPlaces): SshHostService {
  const s: SshHostService = {
    type: "ssh_host",
    ...decodeCommon(m, key, places),
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
