// One entry of `services` (or its deprecated alias `outputs`): the common fields (§1.5) here,
// the type's own through its descriptor in the output registry (src/agent/services/registry.ts).
// The reference's other types are named as unsupported so that a user with a valid reference
// file is not told their file is wrong.

import type { YNode } from "../../util/yaml-source.ts";
import { referenceServiceTypes } from "../services/reference-types.ts";
import { outputDescriptor, supportedServiceTypes } from "../services/registry.ts";
import { decodeDestination } from "./destination.ts";
import type { ConfigPlaces } from "./places.ts";
import type { OutputConfig, ServiceConfig } from "./types.ts";
import { describe, note, text } from "./yaml-values.ts";

export { supportedServiceTypes };

const commonKeys = [
  "type",
  "name",
  "destination",
  "credential_ttl",
  "renewal_interval",
  "roles",
  "exec",
  "exec_timeout",
];

export function decodeService(n: YNode, key: string, places: ConfigPlaces): ServiceConfig {
  const m = n.map();
  note(places, key, n);
  if (m.keys().includes("roles")) rejectRoles(m.get("roles"));
  if (!m.has("type")) n.fail(`${n.path}.type is required (e.g. type: identity)`);
  const typeNode = m.get("type");
  const type = text(typeNode);
  const supported = supportedServiceTypes.join(", ");
  const d = outputDescriptor(type);
  if (!d) {
    if (referenceServiceTypes.includes(type))
      typeNode.fail(`service type "${type}" is not supported by this build; supported types: ${supported}`);
    return typeNode.fail(`unrecognized service type (${type}); supported types: ${supported}`);
  }
  m.strict([...commonKeys, ...d.keys]);
  return d.decode(m, decodeCommon(m, d.type, key, places, d.noDestination === true), { key, places });
}

export function rejectRoles(n: YNode): never {
  return n.fail(
    `${n.path}: roles field is no longer supported; remove it (a service receives every role the bot may use)`,
  );
}

function decodeCommon(
  m: ReturnType<YNode["map"]>,
  type: string,
  key: string,
  places: ConfigPlaces,
  noDestination: boolean,
): OutputConfig {
  const destNode = m.get("destination");
  if (noDestination && !destNode.missing)
    destNode.fail(`${destNode.path}: a ${type} service writes no files; remove destination`);
  if (destNode.missing && !noDestination)
    m.self.fail(`${destNode.path} is required (e.g. destination: {type: directory, path: /opt/machine-id})`);
  const out: OutputConfig = {
    type,
    destination: noDestination
      ? { type: "memory" }
      : decodeDestination(destNode, { places, key: `${key}.destination`, isStorage: false }),
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
  if (m.has("exec")) {
    out.exec = decodeExec(m.get("exec"));
    note(places, `${key}.exec`, m.get("exec"));
  }
  if (m.has("exec_timeout")) {
    out.execTimeoutMs = m.get("exec_timeout").duration();
    note(places, `${key}.exec_timeout`, m.get("exec_timeout"));
  }
  return out;
}

const execExample = 'exec: ["/usr/bin/systemctl", "reload", "nginx"]';

/** An argv list of non-empty strings; a string is refused: there is no shell to split it. */
function decodeExec(n: YNode): string[] {
  if (n.isScalar())
    n.fail(
      `${n.path} must be a list (the program and its arguments, run without a shell), e.g. ${execExample}`,
    );
  const argv = n.list().map((a) => {
    if (!a.isScalar()) a.fail(`${a.path} must be a string, got ${describe(a)}`);
    const v = text(a);
    if (v === "") a.fail(`${a.path} must not be empty`);
    return v;
  });
  if (argv.length === 0) n.fail(`${n.path} must name a program, e.g. ${execExample}`);
  return argv;
}
